package benchkit_test

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"testing"
	"time"

	"helpline/bench/benchkit"
	"helpline/e2e"
)

// phoneTestTimeout bounds each wait of these tests.
const phoneTestTimeout = 30 * time.Second

func TestMain(m *testing.M) { os.Exit(e2e.RunTests(m)) }

// TestPhoneAnswersOffer registers two counselors on one phone, logs one
// in, places a SIPp caller and checks that the phone receives the INVITE
// for that counselor, answers it and ends the call after its talk time.
func TestPhoneAnswersOffer(t *testing.T) {
	srv := benchkit.StartServer(t, benchkit.ServerSetup{Counselors: 2})
	api := benchkit.NewAPI(srv)
	ctx := t.Context()

	phone, err := benchkit.StartPhone(benchkit.PhoneOptions{
		Server: benchkit.ServerAddr(srv), Passwords: benchkit.Passwords(2), Talk: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(phone.Close)
	if err := phone.KeepRegistered(ctx); err != nil {
		t.Fatal(err)
	}
	counselor := benchkit.CounselorID(1)
	if err := api.LoginAll(ctx, []string{counselor}, phoneTestTimeout); err != nil {
		t.Fatal(err)
	}

	caller := benchkit.StartCallers(t, srv, benchkit.CallerLoad{Rate: 1, Limit: 1, Total: 1, Hold: time.Minute})

	select {
	case offer := <-phone.Offers:
		if offer.User != counselor {
			t.Errorf("offer went to %q, expected %q", offer.User, counselor)
		}
		if offer.CallID == "" {
			t.Error("offer has no Call-ID")
		}
	case <-time.After(phoneTestTimeout):
		t.Fatalf("no INVITE reached the phone within %s", phoneTestTimeout)
	}

	result := caller.Wait(t)
	if result.ExitCode != 0 {
		t.Fatalf("the caller's call failed: %s", result.Report())
	}
	answered, ended := phone.Counts()
	if answered != 1 {
		t.Errorf("phone answered %d calls, expected 1", answered)
	}
	if ended != 1 {
		t.Errorf("phone ended %d calls, expected 1", ended)
	}
}

// TestPhoneRegisterWrongPassword checks that a rejected registration
// returns ErrRegister instead of hanging.
func TestPhoneRegisterWrongPassword(t *testing.T) {
	srv := benchkit.StartServer(t, benchkit.ServerSetup{Counselors: 1})
	id := benchkit.CounselorID(0)
	phone, err := benchkit.StartPhone(benchkit.PhoneOptions{
		Server: benchkit.ServerAddr(srv), Passwords: map[string]string{id: "wrong-password"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(phone.Close)

	ctx, cancel := context.WithTimeout(t.Context(), phoneTestTimeout)
	defer cancel()
	_, err = phone.Register(ctx, id)
	if !errors.Is(err, benchkit.ErrRegister) {
		t.Fatalf("REGISTER with a wrong password: error %v, expected ErrRegister", err)
	}
}

// TestPhoneRegisterUnknownUser checks that registering a counselor the
// phone has no password for fails at once.
func TestPhoneRegisterUnknownUser(t *testing.T) {
	phone, err := benchkit.StartPhone(benchkit.PhoneOptions{Server: netip.MustParseAddrPort("127.0.0.1:9"), Passwords: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(phone.Close)
	if _, err := phone.Register(t.Context(), "2000"); err == nil {
		t.Fatal("Register without a password succeeded, expected an error")
	}
}
