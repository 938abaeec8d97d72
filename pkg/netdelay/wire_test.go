package netdelay

import (
	"bytes"
	"encoding/binary"
	"syscall"
	"testing"
)

// The expected bytes below are written out for a little-endian host (the
// nlmsghdr and nlattr fields are in host order); the NFQA payloads are
// big-endian everywhere.
func skipUnlessLittleEndian(t testing.TB) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("expected bytes are written for a little-endian host")
	}
}

func TestBindMessageLayout(t *testing.T) {
	skipUnlessLittleEndian(t)
	got := bindMessage(7, 0x0102, 65536)
	want := []byte{
		// nlmsghdr: len 64, type NFNL_SUBSYS_QUEUE<<8 | NFQNL_MSG_CONFIG =
		// 0x0302, flags NLM_F_REQUEST|NLM_F_ACK = 5, seq 7, pid 0.
		64, 0, 0, 0, 0x02, 0x03, 5, 0, 7, 0, 0, 0, 0, 0, 0, 0,
		// nfgenmsg: AF_UNSPEC, NFNETLINK_V0, res_id = queue 0x0102 big-endian.
		0, 0, 0x01, 0x02,
		// NFQA_CFG_CMD (len 8, type 1): nfqnl_msg_config_cmd {BIND=1, pad, pf AF_INET=2 be16}.
		8, 0, 1, 0, 1, 0, 0, 2,
		// NFQA_CFG_PARAMS (len 4+5 = 9, type 2): packed {copy_range be32 0,
		// copy_mode COPY_META=1}, then 3 bytes of padding to 12.
		9, 0, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0,
		// NFQA_CFG_QUEUE_MAXLEN (len 8, type 3): be32 65536.
		8, 0, 3, 0, 0, 1, 0, 0,
		// NFQA_CFG_FLAGS (type 5) and NFQA_CFG_MASK (type 4): FAIL_OPEN (1)
		// | GSO (4) = 5, be32.
		8, 0, 5, 0, 0, 0, 0, 5,
		8, 0, 4, 0, 0, 0, 0, 5,
	}
	if !bytes.Equal(got, want) {
		t.Errorf("bind message\n got % x\nwant % x", got, want)
	}
}

func TestMaxLenMessageLayout(t *testing.T) {
	skipUnlessLittleEndian(t)
	got := maxLenMessage(9, 3, 0)
	want := []byte{
		28, 0, 0, 0, 0x02, 0x03, 5, 0, 9, 0, 0, 0, 0, 0, 0, 0, // 16+4+8 = 28 bytes, CONFIG, REQUEST|ACK, seq 9
		0, 0, 0, 3, // queue 3
		8, 0, 3, 0, 0, 0, 0, 0, // NFQA_CFG_QUEUE_MAXLEN 0
	}
	if !bytes.Equal(got, want) {
		t.Errorf("max length message\n got % x\nwant % x", got, want)
	}
}

func TestVerdictBatchLayout(t *testing.T) {
	skipUnlessLittleEndian(t)
	b := appendVerdict(nil, 1, 5, 0x0a0b0c0d, verdictAccept)
	b = appendVerdict(b, 2, 5, 42, verdictDrop)
	want := []byte{
		// nlmsghdr: len 32, type 0x0301 (VERDICT), flags NLM_F_REQUEST only
		// (the kernel answers only a failed verdict), seq 1.
		32, 0, 0, 0, 0x01, 0x03, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 5,
		// NFQA_VERDICT_HDR (len 12, type 2): {verdict be32 NF_ACCEPT=1, id be32}.
		12, 0, 2, 0, 0, 0, 0, 1, 0x0a, 0x0b, 0x0c, 0x0d,
		// The second message follows at once (32 is 4-aligned): seq 2, NF_DROP=0, id 42.
		32, 0, 0, 0, 0x01, 0x03, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 5,
		12, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 42,
	}
	if !bytes.Equal(b, want) {
		t.Errorf("verdict batch\n got % x\nwant % x", b, want)
	}
	if verdictMsgLen != 32 {
		t.Errorf("verdictMsgLen = %d, want 32", verdictMsgLen)
	}
}

// packetMsg builds what the kernel sends for a queued packet: the
// attributes given, in order.
func packetMsg(seq uint32, attrs ...[]byte) []byte {
	b := appendHeader(nil, nfqnlMsgPacket, 0, seq, 0, 0)
	for _, a := range attrs {
		b = append(b, a...)
	}
	return finish(b)
}

func attr(typ uint16, payload ...byte) []byte { return appendAttr(nil, typ, payload...) }

func errorMsg(seq uint32, errno int32) []byte {
	b := binary.NativeEndian.AppendUint32(make([]byte, 0, 36), 36)
	b = binary.NativeEndian.AppendUint16(b, nlmsgError)
	b = binary.NativeEndian.AppendUint16(b, 0)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = binary.NativeEndian.AppendUint32(b, uint32(errno))
	return append(b, make([]byte, 16)...) // the request's nlmsghdr, echoed
}

func concat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func TestParseMessages(t *testing.T) {
	// nfqnl_msg_packet_hdr: packet_id 0x01020304 be32, hw_protocol 0x0800
	// (IPv4), hook 0 (PRE_ROUTING): 7 bytes, padded to 8 in the attribute.
	hdr := attr(nfqaPacketHdr, 1, 2, 3, 4, 0x08, 0x00, 0)
	for _, tc := range []struct {
		name    string
		in      []byte
		want    []message
		wantErr bool
	}{
		{name: "empty", in: nil},
		{name: "packet", in: packetMsg(0, hdr), want: []message{{kind: kindPacket, packetID: 0x01020304}}},
		{
			// The kernel puts NFQA_PACKET_HDR first, but the walk must not
			// rely on it: a 5-byte NFQA_MARK-like attribute (padded to 8)
			// comes first here, and the header carries
			// NLA_F_NET_BYTEORDER (1<<14), which NLA_TYPE_MASK strips.
			name: "packet header after another attribute, with a flag bit",
			in:   packetMsg(0, attr(3, 9, 9, 9, 9, 9), attr(nfqaPacketHdr|1<<14, 0, 0, 0, 42, 0x86, 0xdd, 0)),
			want: []message{{kind: kindPacket, packetID: 42}},
		},
		{name: "ack", in: errorMsg(5, 0), want: []message{{kind: kindAck, seq: 5}}},
		{name: "error", in: errorMsg(6, -int32(syscall.EBUSY)), want: []message{{kind: kindError, seq: 6, errno: syscall.EBUSY}}},
		{
			// One datagram can carry packets and an ack together (a bind's
			// ack after the packets that beat it).
			name: "several in one datagram",
			in:   concat(packetMsg(0, hdr), packetMsg(0, attr(nfqaPacketHdr, 0, 0, 0, 7, 8, 0, 0)), errorMsg(1, 0)),
			want: []message{{kind: kindPacket, packetID: 0x01020304}, {kind: kindPacket, packetID: 7}, {kind: kindAck, seq: 1}},
		},
		{name: "NLMSG_DONE is passed over", in: []byte{16, 0, 0, 0, nlmsgDone, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, want: []message{{kind: kindOther}}},
		{name: "short header", in: []byte{16, 0, 0}, wantErr: true},
		{name: "length below a header", in: []byte{4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, wantErr: true},
		{name: "length past the datagram", in: packetMsg(0, hdr)[:24], wantErr: true},
		{name: "packet without a packet header", in: packetMsg(0, attr(3, 0, 0, 0, 0)), wantErr: true},
		{name: "packet header too short", in: packetMsg(0, attr(nfqaPacketHdr, 0, 0, 0, 1)), wantErr: true},
		{name: "attribute length past the message", in: packetMsg(0, []byte{200, 0, 1, 0}), wantErr: true},
		{name: "error message without its code", in: finish(append(binary.NativeEndian.AppendUint32(nil, 0), 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []message
			err := parseMessages(tc.in, func(m message) { got = append(got, m) })
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("messages %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("message %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// FuzzParseMessages: arbitrary bytes from the socket must never panic the
// decoder, and every message it reports must lie within its input.
func FuzzParseMessages(f *testing.F) {
	f.Add(packetMsg(0, attr(nfqaPacketHdr, 1, 2, 3, 4, 8, 0, 0)))
	f.Add(concat(errorMsg(1, 0), packetMsg(0, attr(3, 1), attr(nfqaPacketHdr, 0, 0, 0, 1, 0, 0, 0))))
	f.Add(bindMessage(1, 2, 3))
	f.Add(appendVerdict(nil, 1, 2, 3, 1))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		_ = parseMessages(b, func(message) { n++ })
		if n > len(b)/nlmsgHdrLen {
			t.Fatalf("%d messages from %d bytes", n, len(b))
		}
	})
}
