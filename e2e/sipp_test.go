package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sippPair is one UAC scenario run against one UAS scenario on loopback.
type sippPair struct {
	name    string
	uas     SippOptions
	uac     SippOptions
	wantLog string // a line the UAC's <log> actions must have written
	wantUAS string // a line the UAS's <log> actions must have written
}

// sippPairs lists the pairs that TestSippScenariosRun runs. Together they
// cover every scenario in testdata/sipp without the helpline server, which
// the verification-only scenarios replace.
var sippPairs = []sippPair{
	{
		name: "callback key, server hangs up",
		uas:  SippOptions{Scenario: "uas_verify_hangup.xml", Vars: map[string]string{"hangup_ms": "1500"}},
		uac: SippOptions{Scenario: "uac_callback_key.xml", Service: "120",
			Vars: map[string]string{"gap_ms": "300", "key_ms": "300"}},
		wantLog: "the server sent BYE",
	},
	{
		name: "gateway answers and hangs up first",
		uas: SippOptions{Scenario: "uas_gateway.xml", Vars: map[string]string{"hold_ms": "800"},
			Args: []string{"-rtp_echo"}},
		uac: SippOptions{Scenario: "uac_ivr_talk.xml", Service: "119",
			Vars: map[string]string{"gap_ms": "300", "queue_ms": "200", "hold_ms": "200", "wait_bye": "1"}},
		wantLog: "the server sent BYE",
		wantUAS: "gateway called for 119",
	},
	{
		name: "gateway answers, caller hangs up first",
		uas:  SippOptions{Scenario: "uas_gateway.xml", Vars: map[string]string{"hold_ms": "30000"}},
		uac: SippOptions{Scenario: "uac_ivr_talk.xml", Service: "112",
			Vars: map[string]string{"gap_ms": "300", "queue_ms": "200", "hold_ms": "200"}},
		wantUAS: "the server sent BYE",
	},
	{
		name: "ivr talk, caller hangs up",
		uas:  SippOptions{Scenario: "uas_verify_answer.xml"},
		uac: SippOptions{Scenario: "uac_ivr_talk.xml", Service: "120",
			Vars: map[string]string{"gap_ms": "300", "queue_ms": "200", "hold_ms": "200", "caller": "01099998888"}},
	},
	{
		name:    "ivr talk, server hangs up",
		uas:     SippOptions{Scenario: "uas_verify_hangup.xml", Vars: map[string]string{"hangup_ms": "800"}},
		uac:     SippOptions{Scenario: "uac_ivr_talk.xml", Service: "120"},
		wantLog: "the server sent BYE",
	},
	{
		name: "ivr talk, caller waits for the server's BYE",
		uas:  SippOptions{Scenario: "uas_verify_hangup.xml", Vars: map[string]string{"hangup_ms": "9000"}},
		uac: SippOptions{Scenario: "uac_ivr_talk.xml", Service: "120",
			Vars: map[string]string{"gap_ms": "300", "queue_ms": "200", "hold_ms": "200", "wait_bye": "1"}},
	},
	{
		name: "abandon in the queue",
		uas:  SippOptions{Scenario: "uas_verify_answer.xml"},
		uac: SippOptions{Scenario: "uac_abandon.xml", Service: "120",
			Vars: map[string]string{"gap_ms": "300", "abandon_ms": "500"}},
	},
	{
		name: "abandon, server hangs up first",
		uas:  SippOptions{Scenario: "uas_verify_hangup.xml", Vars: map[string]string{"hangup_ms": "200"}},
		uac: SippOptions{Scenario: "uac_abandon.xml", Service: "120",
			Vars: map[string]string{"abandon_ms": "5000"}},
		wantLog: "the server sent BYE before the caller hung up",
	},
	{
		name: "no common codec",
		uas:  SippOptions{Scenario: "uas_verify_reject.xml"},
		uac:  SippOptions{Scenario: "uac_no_codec.xml", Service: "120"},
	},
	{
		name:    "flood INVITE answered 403",
		uas:     SippOptions{Scenario: "uas_verify_forbidden.xml"},
		uac:     SippOptions{Scenario: "uac_invite_flood.xml", Service: "120", Args: []string{"-nr"}},
		wantUAS: "ACK for the 403 received",
	},
	{
		name: "busy counselor phone",
		uas:  SippOptions{Scenario: "uas_busy.xml"},
		uac:  SippOptions{Scenario: "uac_verify_busy.xml", Service: "1002"},
	},
	{
		name: "cancel before the answer",
		uas:  SippOptions{Scenario: "uas_verify_cancel.xml"},
		uac:  SippOptions{Scenario: "uac_cancel.xml", Service: "120"},
	},
	{
		name:    "cancel crossed by the 200",
		uas:     SippOptions{Scenario: "uas_verify_cancel_race.xml"},
		uac:     SippOptions{Scenario: "uac_cancel.xml", Service: "120"},
		wantLog: "the INVITE was answered before the CANCEL took effect",
	},
	{
		name: "digits sent as SIP INFO",
		uas:  SippOptions{Scenario: "uas_verify_info.xml"},
		uac: SippOptions{Scenario: "uac_info_digits.xml", Service: "120",
			Vars: map[string]string{"hold_ms": "200"}},
	},
	{
		name: "cancel after the 200",
		uas:  SippOptions{Scenario: "uas_verify_cancel_after_200.xml"},
		uac: SippOptions{Scenario: "uac_cancel_after_200.xml", Service: "120",
			Vars: map[string]string{"hold_ms": "200"}},
	},
	{
		name: "bye before ack",
		uas:  SippOptions{Scenario: "uas_verify_answer.xml"},
		uac:  SippOptions{Scenario: "uac_bye_before_ack.xml", Service: "120"},
	},
	{
		name: "ack never sent",
		uas:  SippOptions{Scenario: "uas_verify_no_ack.xml", Args: []string{"-max_non_invite_retrans", "3"}},
		uac: SippOptions{Scenario: "uac_no_ack.xml", Service: "120", Args: []string{"-nr"},
			Vars: map[string]string{"min_retrans": "3"}},
		wantLog: "retransmitted 200 before the BYE",
	},
	{
		name: "register with digest",
		uas:  SippOptions{Scenario: "uas_registrar.xml", Vars: map[string]string{"user": "1002", "password": "demo-1002"}},
		uac: SippOptions{Scenario: "uac_register.xml", Service: "1002", Args: []string{"-ap", "demo-1002"},
			Vars: map[string]string{"contact_port": "5999", "expires": "60"}},
		wantLog: "registered 1002",
		wantUAS: "REGISTER with credentials for sip:1002@127.0.0.1:5999",
	},
	{
		name: "register with a wrong password",
		uas: SippOptions{Scenario: "uas_registrar.xml", AllowFailure: true,
			Vars: map[string]string{"user": "1002", "password": "demo-1002"}},
		uac: SippOptions{Scenario: "uac_register.xml", Service: "1002", Args: []string{"-ap", "wrong"},
			Vars: map[string]string{"expect_reject": "1"}},
		wantLog: "registration of 1002 refused",
		wantUAS: "wrong digest credentials",
	},
	{
		name: "counselor rings until cancelled",
		uas:  SippOptions{Scenario: "uas_ring_forever.xml"},
		uac: SippOptions{Scenario: "uac_verify_ring_cancel.xml", Service: "1001",
			Vars: map[string]string{"cancel_ms": "300"}},
	},
	{
		name: "session timer refreshed by UPDATE",
		uas:  SippOptions{Scenario: "uas_verify_session_timer.xml"},
		uac: SippOptions{Scenario: "uac_session_timer.xml", Service: "120",
			Vars: map[string]string{"se": "12", "refresh_ms": "200"}},
		wantLog: "the server ended the session with BYE",
	},
	{
		name:    "counselor re-offers the session",
		uas:     SippOptions{Scenario: "uas_reinvite.xml", Vars: map[string]string{"pause_ms": "300"}},
		uac:     SippOptions{Scenario: "uac_verify_reinvite.xml", Service: "1002"},
		wantUAS: "the server resumed the counselor leg on PCMU",
	},
	{
		name:    "counselor answers as the cancel arrives",
		uas:     SippOptions{Scenario: "uas_answer_on_cancel.xml"},
		uac:     SippOptions{Scenario: "uac_verify_ring_cancel.xml", Service: "1001"},
		wantLog: "the INVITE was answered before the CANCEL took effect",
	},
	{
		name: "ring-all loser cancelled with a reason",
		uas:  SippOptions{Scenario: "uas_ring_all_loser.xml"},
		uac: SippOptions{Scenario: "uac_verify_ring_cancel.xml", Service: "1001",
			Vars: map[string]string{"cancel_ms": "300"}},
		wantUAS: `CANCEL with Reason SIP;cause=200;text="Call completed elsewhere"`,
	},
	{
		name:    "ring-all loser answers as the cancel arrives",
		uas:     SippOptions{Scenario: "uas_ring_all_loser.xml", Vars: map[string]string{"answer_on_cancel": "1"}},
		uac:     SippOptions{Scenario: "uac_verify_ring_cancel.xml", Service: "1001"},
		wantLog: "the INVITE was answered before the CANCEL took effect",
		wantUAS: "BYE after the crossing 200",
	},
	{
		name: "three keys as SIP INFO",
		uas:  SippOptions{Scenario: "uas_verify_keys.xml"},
		uac: SippOptions{Scenario: "uac_keys.xml", Service: "120",
			Vars: map[string]string{"key1": "9", "key2": "5", "key3": "1", "first_ms": "100", "gap_ms": "100", "hold_ms": "200"}},
		wantUAS: "key 9 from Signal=9\nkey 5 from Signal=5\nkey 1 from Signal=1",
	},
	{
		name: "two keys as SIP INFO",
		uas:  SippOptions{Scenario: "uas_verify_keys.xml"},
		uac: SippOptions{Scenario: "uac_keys.xml", Service: "120",
			Vars: map[string]string{"key1": "5", "key2": "0", "first_ms": "100", "gap_ms": "100", "hold_ms": "200"}},
		wantUAS: "key 5 from Signal=5\nkey 0 from Signal=0\n",
	},
	{
		name: "counselor transfers with REFER",
		uas:  SippOptions{Scenario: "uas_counselor_refer.xml", Vars: map[string]string{"target": "112", "refer_ms": "200"}},
		uac: SippOptions{Scenario: "uac_verify_refer.xml", Service: "1001",
			Vars: map[string]string{"final": "486 Busy Here"}},
		wantLog: "REFER to <sip:112@",
		wantUAS: "final NOTIFY SIP/2.0 486 Busy Here (terminated)",
	},
	{
		name: "outside number answers late",
		uas:  SippOptions{Scenario: "uas_answer_late.xml", Vars: map[string]string{"answer_ms": "300"}},
		uac: SippOptions{Scenario: "uac_ivr_talk.xml", Service: "119",
			Vars: map[string]string{"gap_ms": "300", "queue_ms": "200", "hold_ms": "200"}},
	},
}

func TestSippScenariosRun(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")

	for _, pair := range sippPairs {
		t.Run(pair.name, func(t *testing.T) {
			t.Parallel()

			uas := StartSipp(t, pair.uas)
			uac := pair.uac
			uac.Target = uas.Addr()
			uacResult := RunSipp(t, uac)
			uasResult := uas.Wait(t)

			if uacResult.CallID == "" {
				t.Errorf("no Call-ID in the UAC's message log:\n%s", uacResult.Messages)
			}
			if pair.wantLog != "" && !strings.Contains(uacResult.Log, pair.wantLog) {
				t.Errorf("UAC log lacks %q:\n%s", pair.wantLog, uacResult.Log)
			}
			if pair.wantUAS != "" && !strings.Contains(uasResult.Log, pair.wantUAS) {
				t.Errorf("UAS log lacks %q:\n%s", pair.wantUAS, uasResult.Log)
			}
			if pair.uas.AllowFailure && uasResult.ExitCode == 0 {
				t.Errorf("UAS passed, but this pair expects it to fail:\n%s", uasResult.Report())
			}
		})
	}
}

func TestSippCallerSeenByServerFields(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")

	uas := StartSipp(t, SippOptions{Scenario: "uas_verify_reject.xml"})
	result := RunSipp(t, SippOptions{
		Scenario: "uac_no_codec.xml", Target: uas.Addr(), Service: "120",
		Vars: map[string]string{"caller": "01055556666"},
	})
	uasResult := uas.Wait(t)

	for _, want := range []string{
		"INVITE sip:120@" + uas.Addr(),
		"From: <sip:01055556666@",
		"m=audio ",
		"RTP/AVP 18 9",
	} {
		if !strings.Contains(uasResult.Messages, want) {
			t.Errorf("the INVITE the UAS received lacks %q:\n%s", want, uasResult.Messages)
		}
	}
	if !strings.Contains(uasResult.Messages, "Call-ID: "+result.CallID) {
		t.Errorf("UAC Call-ID %q not in the UAS log", result.CallID)
	}
}

func TestEveryScenarioIsVerified(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob(filepath.Join(RepoRoot(t), "testdata", "sipp", "*.xml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("listing SIPp scenarios: %v (found %d)", err, len(paths))
	}

	used := map[string]bool{}
	for _, pair := range sippPairs {
		used[pair.uas.Scenario] = true
		used[pair.uac.Scenario] = true
	}
	for _, path := range paths {
		name := filepath.Base(path)
		if !used[name] {
			t.Errorf("%s is not run by TestSippScenariosRun", name)
		}

		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("reading %s: %v", name, err)
		}
		header := string(data)
		if !strings.Contains(header, "<!--\n  "+name+":") || !strings.Contains(header, "Fields:") {
			t.Errorf("%s lacks the header comment (\"%s: ...\" and a Fields: list)", name, name)
		}
	}
}

func TestSippTalkSendsPcapMedia(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	RequireTool(t, "tshark")
	RequireRoot(t, "pcap playback and capture")

	uas := StartSipp(t, SippOptions{Scenario: "uas_verify_answer.xml"})
	callerMedia := FreeMediaPort(t)
	capture := Capture(t, callerMedia)

	RunSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml", Target: uas.Addr(), Service: "120", MediaPort: callerMedia,
		Vars:    map[string]string{"gap_ms": "300", "queue_ms": "200", "hold_ms": "500"},
		Timeout: 30 * time.Second,
	})
	uas.Wait(t)
	packets := capture.Packets(t)

	sent := packets.From(callerMedia)
	dtmf := sent.WithPT(payloadTelephoneEvent)
	voice := sent.WithPT(payloadPCMA)
	received := packets.To(callerMedia).WithPT(payloadPCMA)

	counts := []struct {
		name string
		got  int
		want int
	}{
		{"telephone-event packets for keys 5 and 1", len(dtmf), 2 * pcapPacketsPerDigit},
		{"A-law packets of g711a.pcap", len(voice), pcapVoicePackets},
		{"A-law packets from the callee", len(received), pcapVoicePackets},
	}
	for _, count := range counts {
		if count.got != count.want {
			t.Errorf("%s: %d, want %d", count.name, count.got, count.want)
		}
	}
	if err := CheckContinuous(voice); err != nil {
		t.Errorf("caller voice: %v", err)
	}
	for _, packet := range voice {
		if packet.PayloadLen != pcapVoicePayload {
			t.Errorf("voice packet %d has %d payload bytes, want %d", packet.Seq, packet.PayloadLen, pcapVoicePayload)
			break
		}
	}
}

// What the sip-tester captures contain (checked with tshark, see
// docs/testing.md).
const (
	payloadPCMA           = 8
	payloadTelephoneEvent = 101
	pcapPacketsPerDigit   = 10
	pcapVoicePackets      = 236
	pcapVoicePayload      = 240
)
