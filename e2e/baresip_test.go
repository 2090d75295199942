package e2e

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestBaresipRegisters(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	RequireTool(t, "baresip")

	tests := []struct {
		name      string
		transport string
	}{
		{name: "udp", transport: "udp"},
		{name: "tcp", transport: "tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			registrar := StartSipp(t, SippOptions{
				Scenario:  "uas_registrar.xml",
				Transport: tt.transport,
				Vars:      map[string]string{"user": "1001", "password": "demo-1001"},
			})
			phone := StartBaresip(t, Softphone{
				User: "1001", Password: "demo-1001", Server: registrar.Addr(), Transport: tt.transport,
			})
			result := registrar.Wait(t)

			if !strings.Contains(result.Messages, `Authorization: Digest username="1001"`) {
				t.Errorf("the second REGISTER carries no digest credentials for 1001:\n%s", result.Messages)
			}
			if !strings.Contains(result.Log, "REGISTER with credentials for sip:1001") {
				t.Errorf("registrar log lacks the checked binding:\n%s", result.Log)
			}
			if !strings.Contains(result.Messages, "SIP/2.0/"+strings.ToUpper(tt.transport)) {
				t.Errorf("no %s Via in the registrar's messages:\n%s", tt.transport, result.Messages)
			}
			phone.Stop()
		})
	}
}

func TestBaresipRefusedRegistration(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	RequireTool(t, "baresip")

	registrar := StartSipp(t, SippOptions{
		Scenario:     "uas_registrar.xml",
		Vars:         map[string]string{"user": "1001", "password": "demo-1001"},
		AllowFailure: true,
	})
	phone := StartBaresip(t, Softphone{
		User: "1001", Password: "not-the-password", Server: registrar.Addr(), SkipRegistrationWait: true,
	})

	phone.WaitLog(t, "403 Forbidden", 15*time.Second)
	if result := registrar.Wait(t); result.ExitCode == 0 {
		t.Errorf("registrar accepted a wrong password:\n%s", result.Report())
	}
}

func TestBaresipAnswersTalksAndHangsUp(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	RequireTool(t, "baresip")
	RequireTool(t, "tshark")
	RequireRoot(t, "pcap playback and capture")

	registrar := StartSipp(t, SippOptions{Scenario: "uas_registrar.xml"})
	phone := StartBaresip(t, Softphone{
		User: "1001", Password: "demo-1001", Server: registrar.Addr(), AutoAnswer: true,
	})
	registrar.Wait(t)
	phoneAddr := net.JoinHostPort(Loopback, strconv.Itoa(phone.SIPPort))

	t.Run("caller hangs up", func(t *testing.T) {
		callerMedia := FreeMediaPort(t)
		capture := Capture(t, callerMedia)

		call := RunSipp(t, SippOptions{
			Scenario: "uac_ivr_talk.xml", Target: phoneAddr, Service: "1001", MediaPort: callerMedia,
			Vars:    map[string]string{"gap_ms": "300", "queue_ms": "0", "hold_ms": "500"},
			Timeout: 30 * time.Second,
		})
		established := phone.WaitEvent(t, EventCallEstablished, 10*time.Second)
		phone.WaitEvent(t, EventCallClosed, 10*time.Second)

		if established.ID != call.CallID {
			t.Errorf("phone answered call %q, SIPp placed %q", established.ID, call.CallID)
		}

		counselor := capture.Packets(t).To(callerMedia).WithPT(payloadPCMA)
		if len(counselor) < 100 {
			t.Errorf("caller received %d A-law packets from the phone, want at least 100", len(counselor))
		}
		if err := CheckContinuous(counselor); err != nil {
			t.Errorf("phone's audio stream: %v", err)
		}

		recording, err := ReadWAV(phone.RecordedWAV(t))
		if err != nil {
			t.Fatalf("reading what the phone received: %v", err)
		}
		if recording.Duration() < 5*time.Second {
			t.Errorf("phone recorded %s of audio, want at least 5s", recording.Duration())
		}
		if recording.RMS() < 100 {
			t.Errorf("phone recording has RMS %.0f, want speech (at least 100)", recording.RMS())
		}
	})

	t.Run("phone hangs up", func(t *testing.T) {
		call := StartSipp(t, SippOptions{
			Scenario: "uac_ivr_talk.xml", Target: phoneAddr, Service: "1001",
			Vars:    map[string]string{"gap_ms": "300", "queue_ms": "0", "hold_ms": "500", "wait_bye": "1"},
			Timeout: 30 * time.Second,
		})
		phone.WaitEvent(t, EventCallEstablished, 10*time.Second)
		phone.Hangup(t)
		phone.WaitEvent(t, EventCallClosed, 10*time.Second)

		result := call.Wait(t)
		if !strings.Contains(result.Log, "the server sent BYE") {
			t.Errorf("caller did not get the phone's BYE:\n%s", result.Report())
		}
	})
}
