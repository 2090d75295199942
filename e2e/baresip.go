package e2e

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Softphone limits and defaults.
const (
	// DefaultSourceLength is how long the generated counselor voice lasts.
	// baresip 1.0.0 ends the call when its aufile source reaches the end.
	DefaultSourceLength = 2 * time.Minute
	defaultToneHz       = 440
	defaultToneLevel    = 0.3

	registerTimeout = 15 * time.Second
	controlTimeout  = 10 * time.Second
	// unregisterWait is how long baresip may spend removing its
	// registration after the first SIGTERM; a second SIGTERM makes
	// baresip 1.0.0 exit at once.
	unregisterWait    = 2 * time.Second
	phoneStopGrace    = 5 * time.Second
	phoneRTPPorts     = 20
	registerInterval  = 60
	recordingPollTime = 20 * time.Millisecond
)

// Event types that baresip's ctrl_tcp module sends.
const (
	EventCallIncoming    = "CALL_INCOMING"
	EventCallRinging     = "CALL_RINGING"
	EventCallEstablished = "CALL_ESTABLISHED"
	EventCallClosed      = "CALL_CLOSED"
	EventRegisterOK      = "REGISTER_OK"
	EventRegisterFail    = "REGISTER_FAIL"
	// EventCallMediaEncryption reports the negotiated SRTP suite of a
	// stream, as Param "0,audio,AES_CM_128_HMAC_SHA1_80".
	EventCallMediaEncryption = "CALL_MENC"
)

// Lines baresip 1.0.0 prints for the response to a REGISTER, e.g.
// "1001@127.0.0.1: {0/UDP/v4} 200 OK () [1 binding]".
var (
	registeredLine   = regexp.MustCompile(`\{[^}]*\} 200 OK`)
	registerFailLine = regexp.MustCompile(`\{[^}]*\} [3-6][0-9][0-9] `)
)

// dumpPattern matches the files of baresip's sndfile module that hold the
// decoded (received) audio of a call.
const dumpPattern = "dump-*-dec.wav"

// ErrControl means a ctrl_tcp command failed or got no response.
var ErrControl = errors.New("baresip control command failed")

// Softphone describes a counselor's phone, run by StartBaresip.
type Softphone struct {
	// User and Password are the counselor's SIP credentials.
	User, Password string
	// Server is the registrar's host:port (Server.Addr()).
	Server string
	// Transport is "udp" (default), "tcp" or "tls". For tls, Server is the
	// server's TLS listener and CAFile its certificate.
	Transport string
	// CAFile is a PEM file of the certificates baresip trusts for SIP over
	// TLS (sip_cafile).
	CAFile string
	// MediaEncryption is the account's mediaenc value, such as "srtp-mand"
	// for SDES SRTP only (the srtp module). Empty: plain RTP.
	MediaEncryption string
	// RTPPorts is the size of the phone's RTP port range. Zero: 20. Two
	// pins a single call's RTP to RTP.Min, for a capture of that port.
	RTPPorts int
	// AutoAnswer answers incoming calls at once; otherwise call Answer.
	AutoAnswer bool
	// SourceWAV is the counselor's voice: a mono 8 kHz 16-bit WAV file.
	// baresip ends the call when the file runs out. Empty: a 440 Hz tone
	// lasting SourceLength.
	SourceWAV string
	// SourceLength is the length of the generated tone. Zero: 2 minutes.
	SourceLength time.Duration
	// RecordWAV, when set, receives a copy of what the phone heard in its
	// last call each time RecordedWAV is called.
	RecordWAV string
	// SkipRegistrationWait returns from StartBaresip without waiting for
	// the 200 to the REGISTER (for tests of refused registrations).
	SkipRegistrationWait bool
	// Host is the loopback address the phone's SIP and RTP use, such as
	// 127.0.0.3. Empty: 127.0.0.1. The control port stays on 127.0.0.1.
	Host string
}

// PhoneEvent is one event from baresip's ctrl_tcp module.
type PhoneEvent struct {
	Type       string `json:"type"`
	Class      string `json:"class"`
	AccountAOR string `json:"accountaor"`
	Direction  string `json:"direction"`
	PeerURI    string `json:"peeruri"`
	// ID is the SIP Call-ID of the call.
	ID    string `json:"id"`
	Param string `json:"param"`
}

// controlMessage is any message on the ctrl_tcp connection.
type controlMessage struct {
	PhoneEvent
	Event    bool   `json:"event"`
	Response bool   `json:"response"`
	OK       bool   `json:"ok"`
	Data     string `json:"data"`
	Token    string `json:"token"`
}

// Phone is a running baresip softphone.
type Phone struct {
	// Dir is baresip's configuration folder (-f).
	Dir string
	// SIPPort is the UDP and TCP port baresip listens on.
	SIPPort int
	// ControlPort is the ctrl_tcp port.
	ControlPort int
	// RTP is the range baresip takes RTP ports from.
	RTP PortRange

	spec      Softphone
	recordDir string
	proc      *process
	lines     *eventLog[string]
	events    *eventLog[PhoneEvent]
	stdout    *lineWriter

	control   net.Conn
	writeMu   sync.Mutex // serialises writes to control
	nextToken atomic.Uint64
	pendingMu sync.Mutex // guards pending
	pending   map[string]chan controlMessage
	readDone  chan struct{}

	cursorMu sync.Mutex // guards cursor
	cursor   int

	stopOnce sync.Once
}

// StartBaresip starts baresip with its own configuration folder (it never
// reads ~/.baresip): no audio hardware (aufile source, aubridge player),
// G.711 only, SIP on a free 127.0.0.1 port, the sndfile module recording
// each call, and ctrl_tcp for commands and events. It waits until the
// registration succeeded, unless SkipRegistrationWait is set.
func StartBaresip(t testing.TB, spec Softphone) *Phone {
	t.Helper()

	baresip := RequireTool(t, "baresip")

	p := &Phone{
		Dir: t.TempDir(),
		// baresip also opens SIP over TLS on the port after SIPPort.
		SIPPort:     FreePortPair(t),
		ControlPort: FreePort(t),
		RTP:         FreePortRange(t, cmp.Or(spec.RTPPorts, phoneRTPPorts)),
		spec:        spec,
		lines:       newEventLog[string](),
		events:      newEventLog[PhoneEvent](),
		pending:     map[string]chan controlMessage{},
		readDone:    make(chan struct{}),
	}
	p.recordDir = filepath.Join(p.Dir, "recordings")
	p.writeFiles(t)
	p.start(t, baresip)
	p.connectControl(t)

	if !spec.SkipRegistrationWait {
		p.WaitRegistered(t, registerTimeout)
	}
	return p
}

func (p *Phone) writeFiles(t testing.TB) {
	t.Helper()

	if err := os.MkdirAll(p.recordDir, 0o755); err != nil {
		t.Fatalf("creating the recordings folder: %v", err)
	}

	source := p.spec.SourceWAV
	if source == "" {
		source = filepath.Join(p.Dir, "counselor.wav")
		length := p.spec.SourceLength
		if length == 0 {
			length = DefaultSourceLength
		}
		if err := WriteToneWAV(source, length, defaultToneHz, defaultToneLevel); err != nil {
			t.Fatalf("writing the counselor's audio: %v", err)
		}
	}

	files := map[string]string{
		"config":   p.config(source),
		"accounts": p.accountLine() + "\n",
		"contacts": "",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(p.Dir, name), []byte(content), 0o600); err != nil {
			t.Fatalf("writing baresip %s: %v", name, err)
		}
	}
}

// config returns baresip 1.0.0's config file. net_interface takes an
// address there: the interface name "lo" fails with "No such device".
func (p *Phone) config(source string) string {
	host := p.spec.Host
	if host == "" {
		host = Loopback
	}
	lines := []string{
		"poll_method epoll",
		"sip_listen " + net.JoinHostPort(host, strconv.Itoa(p.SIPPort)),
		"net_interface " + host,
		"call_local_timeout 120",
		"call_max_calls 4",
		"audio_source aufile," + source,
		"audio_player aubridge,player",
		"audio_alert aubridge,alert",
		"audio_level no",
		"ausrc_format s16",
		"auplay_format s16",
		"auenc_format s16",
		"audec_format s16",
		"audio_buffer 20-160",
		fmt.Sprintf("rtp_ports %d-%d", p.RTP.Min, p.RTP.Max),
		"rtcp_mux no",
		"jitter_buffer_delay 5-10",
		"rtp_stats no",
		"module_path /usr/lib/baresip/modules",
		"module g711.so",
		"module sndfile.so",
		"module aufile.so",
		"module aubridge.so",
		"module_tmp account.so",
		"module_app menu.so",
		"module_app ctrl_tcp.so",
		"ctrl_tcp_listen " + net.JoinHostPort(Loopback, strconv.Itoa(p.ControlPort)),
		"snd_path " + p.recordDir,
		"statmode_default off",
		"ringback_disabled yes",
		"menu_bell no",
	}
	if p.spec.CAFile != "" {
		lines = append(lines, "sip_cafile "+p.spec.CAFile)
	}
	if p.spec.MediaEncryption != "" {
		lines = append(lines, "module srtp.so")
	}
	return strings.Join(lines, "\n") + "\n"
}

func (p *Phone) accountLine() string {
	transport := p.spec.Transport
	if transport == "" {
		transport = "udp"
	}
	answerMode := "manual"
	if p.spec.AutoAnswer {
		answerMode = "auto"
	}
	line := fmt.Sprintf("<sip:%s@%s;transport=%s>;auth_pass=%s;answermode=%s;regint=%d;mwi=no;pubint=0;ptime=20",
		p.spec.User, p.spec.Server, transport, p.spec.Password, answerMode, registerInterval)
	if p.spec.MediaEncryption != "" {
		line += ";mediaenc=" + p.spec.MediaEncryption
	}
	return line
}

func (p *Phone) start(t testing.TB, baresip string) {
	t.Helper()

	p.stdout = &lineWriter{emit: p.lines.add}
	cmd := exec.Command(baresip, "-4", "-f", p.Dir)
	cmd.Stdout = p.stdout
	cmd.Stderr = p.stdout
	cmd.WaitDelay = waitDelay

	proc, err := startProcess("baresip", cmd)
	if err != nil {
		t.Fatalf("starting baresip: %v", err)
	}
	p.proc = proc

	logTailOnFailure(t, "baresip "+p.spec.User+" output", p.lines.snapshot)
	t.Cleanup(p.stop)
}

func (p *Phone) connectControl(t testing.TB) {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), controlTimeout)
	defer cancel()
	if err := waitListeningOrExit(ctx, p.proc, "tcp", p.ControlPort); err != nil {
		t.Fatalf("waiting for baresip's control port %d: %v", p.ControlPort, err)
	}

	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(Loopback, strconv.Itoa(p.ControlPort)))
	if err != nil {
		t.Fatalf("connecting to baresip's control port: %v", err)
	}
	p.control = conn
	go p.readControl()
}

// readControl reads ctrl_tcp messages until the connection closes.
func (p *Phone) readControl() {
	defer close(p.readDone)

	reader := bufio.NewReader(p.control)
	for {
		data, err := readNetstring(reader)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				p.lines.add("harness: control connection: " + err.Error())
			}
			return
		}

		var message controlMessage
		if err := json.Unmarshal(data, &message); err != nil {
			p.lines.add("harness: undecodable control message: " + string(data))
			continue
		}
		p.dispatch(message)
	}
}

func (p *Phone) dispatch(message controlMessage) {
	if message.Event {
		p.events.add(message.PhoneEvent)
		return
	}
	if !message.Response {
		return
	}

	p.pendingMu.Lock()
	reply, ok := p.pending[message.Token]
	delete(p.pending, message.Token)
	p.pendingMu.Unlock()
	if ok {
		reply <- message
	}
}

// Command sends a ctrl_tcp command (a menu command such as "hangup",
// "accept" or "dial") and returns the response data.
func (p *Phone) Command(t testing.TB, command, params string) string {
	t.Helper()

	data, err := p.command(command, params)
	if err != nil {
		t.Fatalf("baresip %s: %v", p.spec.User, err)
	}
	return data
}

func (p *Phone) command(command, params string) (string, error) {
	token := "harness-" + strconv.FormatUint(p.nextToken.Add(1), 10)
	reply := make(chan controlMessage, 1)
	p.pendingMu.Lock()
	p.pending[token] = reply
	p.pendingMu.Unlock()
	defer func() {
		p.pendingMu.Lock()
		delete(p.pending, token)
		p.pendingMu.Unlock()
	}()

	request, err := json.Marshal(map[string]string{"command": command, "params": params, "token": token})
	if err != nil {
		return "", fmt.Errorf("encoding command %s: %w", command, err)
	}
	p.writeMu.Lock()
	_, err = p.control.Write(appendNetstring(nil, request))
	p.writeMu.Unlock()
	if err != nil {
		return "", fmt.Errorf("%w: sending %s: %w", ErrControl, command, err)
	}

	select {
	case message := <-reply:
		if !message.OK {
			return "", fmt.Errorf("%w: %s: %s", ErrControl, command, message.Data)
		}
		return message.Data, nil
	case <-p.readDone:
		return "", fmt.Errorf("%w: %s: control connection closed", ErrControl, command)
	case <-time.After(controlTimeout):
		return "", fmt.Errorf("%w: %s: no response within %s", ErrControl, command, controlTimeout)
	}
}

// Hangup ends the current call (menu command "hangup").
func (p *Phone) Hangup(t testing.TB) {
	t.Helper()
	p.Command(t, "hangup", "")
}

// Answer answers the ringing call (menu command "accept").
func (p *Phone) Answer(t testing.TB) {
	t.Helper()
	p.Command(t, "accept", "")
}

// WaitRegistered waits until baresip reports a 200 to its REGISTER and
// fails at once when it reports a 3xx to 6xx response instead.
func (p *Phone) WaitRegistered(t testing.TB, timeout time.Duration) {
	t.Helper()

	answered := func(line string) bool {
		return registeredLine.MatchString(line) || registerFailLine.MatchString(line)
	}
	line, _, err := p.lines.wait(0, answered, timeout, p.proc.exited)
	if err != nil {
		t.Fatalf("waiting for %s to register with %s: %v", p.spec.User, p.spec.Server, err)
	}
	if !registeredLine.MatchString(line) {
		t.Fatalf("registration of %s with %s refused: %s", p.spec.User, p.spec.Server, line)
	}
}

// WaitLog waits for an output line containing substring (looking at all
// output since the start) and returns it.
func (p *Phone) WaitLog(t testing.TB, substring string, timeout time.Duration) string {
	t.Helper()

	contains := func(line string) bool { return strings.Contains(line, substring) }
	line, _, err := p.lines.wait(0, contains, timeout, p.proc.exited)
	if err != nil {
		t.Fatalf("waiting for baresip %s to print %q: %v", p.spec.User, substring, err)
	}
	return line
}

// Lines returns baresip's output so far.
func (p *Phone) Lines() []string {
	return p.lines.snapshot()
}

// WaitEvent waits for a ctrl_tcp event of type eventType and returns it.
// Events are consumed in order: each call looks only at events after the
// one the previous call returned.
func (p *Phone) WaitEvent(t testing.TB, eventType string, timeout time.Duration) PhoneEvent {
	t.Helper()

	p.cursorMu.Lock()
	defer p.cursorMu.Unlock()

	ofType := func(event PhoneEvent) bool { return event.Type == eventType }
	event, next, err := p.events.wait(p.cursor, ofType, timeout, p.readDone)
	if err != nil {
		t.Fatalf("waiting for baresip %s event %s: %v; events so far: %+v", p.spec.User, eventType, err, p.events.snapshot())
	}
	p.cursor = next
	return event
}

// Events returns every ctrl_tcp event so far.
func (p *Phone) Events() []PhoneEvent {
	return p.events.snapshot()
}

// RecordedWAV returns the WAV file with what the phone heard in its most
// recent call, once baresip has closed it, and copies it to
// Softphone.RecordWAV when that is set. Call it after the call ended
// (WaitEvent with EventCallClosed).
func (p *Phone) RecordedWAV(t testing.TB) string {
	t.Helper()

	dumps, err := filepath.Glob(filepath.Join(p.recordDir, dumpPattern))
	if err != nil || len(dumps) == 0 {
		t.Fatalf("no recording of baresip %s in %s (glob error: %v)", p.spec.User, p.recordDir, err)
	}
	sort.Strings(dumps)
	newest := dumps[len(dumps)-1]

	if err := p.waitFileClosed(newest, controlTimeout); err != nil {
		t.Fatalf("waiting for baresip to finish %s: %v", newest, err)
	}
	if p.spec.RecordWAV == "" {
		return newest
	}

	data, err := os.ReadFile(newest)
	if err != nil {
		t.Fatalf("reading the recording: %v", err)
	}
	if err := os.WriteFile(p.spec.RecordWAV, data, 0o600); err != nil {
		t.Fatalf("copying the recording to %s: %v", p.spec.RecordWAV, err)
	}
	return p.spec.RecordWAV
}

// waitFileClosed waits until no file descriptor of the baresip process
// refers to path, that is until libsndfile wrote the final header.
func (p *Phone) waitFileClosed(path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	fdDir := "/proc/" + strconv.Itoa(p.proc.pid()) + "/fd"
	for {
		if !p.proc.running() || !fileOpenIn(fdDir, path) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s still open after %s", ErrWaitTimeout, path, timeout)
		}
		time.Sleep(recordingPollTime)
	}
}

func fileOpenIn(fdDir, path string) bool {
	entries, err := os.ReadDir(fdDir)
	if err != nil {
		return false
	}
	for _, entry := range entries {
		target, err := os.Readlink(filepath.Join(fdDir, entry.Name()))
		if err == nil && target == path {
			return true
		}
	}
	return false
}

// Kill ends baresip with SIGKILL, as when a softphone crashes or its
// computer loses power: no BYE, no unregistration, no more RTP. It fails
// the test unless the process is gone within 5 s.
func (p *Phone) Kill(t testing.TB) {
	t.Helper()
	p.proc.signal(syscall.SIGKILL)
	if !p.proc.exitsWithin(phoneStopGrace) {
		t.Fatalf("baresip (pid %d) still runs %s after SIGKILL", p.proc.pid(), phoneStopGrace)
	}
}

// Stop ends baresip: SIGTERM (baresip unregisters), a second SIGTERM after
// 2 s (baresip exits at once), SIGKILL 5 s later. t.Cleanup calls it too.
func (p *Phone) Stop() {
	p.stop()
}

func (p *Phone) stop() {
	p.stopOnce.Do(func() {
		p.proc.signal(syscall.SIGTERM)
		if !p.proc.exitsWithin(unregisterWait) {
			p.proc.stop(syscall.SIGTERM, phoneStopGrace)
		}
		if p.control != nil {
			p.control.Close()
			<-p.readDone
		}
		p.stdout.Close()
	})
}
