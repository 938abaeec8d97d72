package netdelay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
)

// The nfnetlink_queue protocol, from the kernel's uapi headers
// linux/netlink.h, linux/netfilter/nfnetlink.h and
// linux/netfilter/nfnetlink_queue.h. Byte order is mixed: the netlink
// header (nlmsghdr) and attribute headers (nlattr) are in host order,
// nfgenmsg's res_id and every NFQA_* payload are big-endian.
const (
	nlmsgHdrLen = 16 // struct nlmsghdr {u32 len; u16 type, flags; u32 seq, pid}
	nfgenMsgLen = 4  // struct nfgenmsg {u8 family, version; __be16 res_id}
	nlaHdrLen   = 4  // struct nlattr {u16 len, type}

	nlmsgNoop  = 1 // NLMSG_NOOP
	nlmsgError = 2 // NLMSG_ERROR: an ack (error 0) or a failure
	nlmsgDone  = 3 // NLMSG_DONE

	nlmFRequest = 0x1 // NLM_F_REQUEST
	nlmFAck     = 0x4 // NLM_F_ACK

	// nla_type's top bits are flags (NLA_F_NESTED, NLA_F_NET_BYTEORDER);
	// the type is what NLA_TYPE_MASK leaves.
	nlaTypeMask = ^uint16(1<<15 | 1<<14)

	nfnlSubsysQueue = 3 // NFNL_SUBSYS_QUEUE: the high byte of nlmsg_type

	nfqnlMsgPacket  = 0 // NFQNL_MSG_PACKET: kernel → us, one queued packet
	nfqnlMsgVerdict = 1 // NFQNL_MSG_VERDICT
	nfqnlMsgConfig  = 2 // NFQNL_MSG_CONFIG

	nfqaPacketHdr  = 1 // NFQA_PACKET_HDR: struct nfqnl_msg_packet_hdr
	nfqaVerdictHdr = 2 // NFQA_VERDICT_HDR: struct nfqnl_msg_verdict_hdr

	nfqaCfgCmd         = 1 // struct nfqnl_msg_config_cmd
	nfqaCfgParams      = 2 // struct nfqnl_msg_config_params
	nfqaCfgQueueMaxlen = 3 // __be32
	nfqaCfgMask        = 4 // __be32: which NFQA_CFG_FLAGS bits to set
	nfqaCfgFlags       = 5 // __be32

	nfqnlCfgCmdBind = 1 // NFQNL_CFG_CMD_BIND
	nfqnlCopyMeta   = 1 // NFQNL_COPY_META: metadata only, no payload

	// NFQA_CFG_F_FAIL_OPEN: when the queue is full, accept instead of
	// drop. NFQA_CFG_F_GSO: hand over GSO packets whole instead of making
	// the kernel segment them (we never look at payload).
	nfqaCfgFFailOpen = 1 << 0
	nfqaCfgFGSO      = 1 << 2

	afInet = 2 // AF_INET; the kernel has ignored the pf of a bind since 3.8

	// packetHdrLen is sizeof(struct nfqnl_msg_packet_hdr): __be32
	// packet_id, __be16 hw_protocol, u8 hook, packed.
	packetHdrLen = 7
	// verdictMsgLen is one verdict message: nlmsghdr, nfgenmsg and an
	// NFQA_VERDICT_HDR attribute {__be32 verdict; __be32 id}.
	verdictMsgLen = nlmsgHdrLen + nfgenMsgLen + nlaHdrLen + 8
)

func align4(n int) int { return (n + 3) &^ 3 }

// appendHeader appends an nfnetlink_queue message header of msgType whose
// total length is length, to queue.
func appendHeader(b []byte, msgType uint8, flags uint16, seq uint32, queue uint16, length int) []byte {
	b = binary.NativeEndian.AppendUint32(b, uint32(length))
	b = binary.NativeEndian.AppendUint16(b, nfnlSubsysQueue<<8|uint16(msgType))
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0) // nlmsg_pid: 0 is the kernel
	b = append(b, 0, 0)                        // nfgen_family AF_UNSPEC, version NFNETLINK_V0
	return binary.BigEndian.AppendUint16(b, queue)
}

// appendAttr appends an attribute, padded to 4 bytes.
func appendAttr(b []byte, typ uint16, payload ...byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(nlaHdrLen+len(payload)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, payload...)
	return append(b, make([]byte, align4(len(payload))-len(payload))...)
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// finish writes b's length into its nlmsg_len.
func finish(b []byte) []byte {
	binary.NativeEndian.PutUint32(b, uint32(len(b)))
	return b
}

// bindMessage binds queue to this socket in one request, acked: metadata
// only, maxLen packets at most, fail-open and GSO. NFQA_CFG_FLAGS is
// refused (EINVAL) without NFQA_CFG_MASK beside it.
func bindMessage(seq uint32, queue uint16, maxLen uint32) []byte {
	b := appendHeader(nil, nfqnlMsgConfig, nlmFRequest|nlmFAck, seq, queue, 0)
	// struct nfqnl_msg_config_cmd {u8 command; u8 _pad; __be16 pf}
	b = appendAttr(b, nfqaCfgCmd, nfqnlCfgCmdBind, 0, 0, afInet)
	// struct nfqnl_msg_config_params {__be32 copy_range; u8 copy_mode}
	// is packed: 5 bytes. copy_range means nothing with COPY_META.
	b = appendAttr(b, nfqaCfgParams, 0, 0, 0, 0, nfqnlCopyMeta)
	b = appendAttr(b, nfqaCfgQueueMaxlen, be32(maxLen)...)
	b = appendAttr(b, nfqaCfgFlags, be32(nfqaCfgFFailOpen|nfqaCfgFGSO)...)
	b = appendAttr(b, nfqaCfgMask, be32(nfqaCfgFFailOpen|nfqaCfgFGSO)...)
	return finish(b)
}

// maxLenMessage sets queue's length limit, acked. Run sets it to 0 before
// it lets go of the queue: with fail-open, the kernel then accepts every
// new packet itself, so none arrives that closing the socket would drop.
func maxLenMessage(seq uint32, queue uint16, maxLen uint32) []byte {
	b := appendHeader(nil, nfqnlMsgConfig, nlmFRequest|nlmFAck, seq, queue, 0)
	return finish(appendAttr(b, nfqaCfgQueueMaxlen, be32(maxLen)...))
}

// appendVerdict appends one verdict message to a batch. It asks for no
// ack: the kernel answers a verdict only when it fails, so a batch of n
// verdicts costs one sendto and no reply.
func appendVerdict(b []byte, seq uint32, queue uint16, id, verdict uint32) []byte {
	b = appendHeader(b, nfqnlMsgVerdict, nlmFRequest, seq, queue, verdictMsgLen)
	// struct nfqnl_msg_verdict_hdr {__be32 verdict; __be32 id}
	return appendAttr(b, nfqaVerdictHdr, binary.BigEndian.AppendUint32(be32(verdict), id)...)
}

// messageKind says what a message from the kernel is.
type messageKind int

const (
	kindOther  messageKind = iota // NOOP, DONE, or a type we do not use
	kindPacket                    // a queued packet: packetID is set
	kindAck                       // NLMSG_ERROR with error 0
	kindError                     // NLMSG_ERROR with an errno
)

// message is the part of a kernel message Run needs.
type message struct {
	kind     messageKind
	seq      uint32 // the seq of the request an ack or error answers
	errno    syscall.Errno
	packetID uint32
}

var errTruncated = errors.New("truncated netlink message")

// parseMessages walks the netlink messages in one datagram and calls
// visit for each. It returns an error, having visited the messages before
// it, on the first malformed one; it reads only within b.
func parseMessages(b []byte, visit func(message)) error {
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return errTruncated
		}
		n := int(binary.NativeEndian.Uint32(b))
		if n < nlmsgHdrLen || n > len(b) {
			return fmt.Errorf("netlink message length %d with %d bytes left: %w", n, len(b), errTruncated)
		}
		m, err := parseMessage(b[:n])
		if err != nil {
			return err
		}
		visit(m)
		b = b[min(align4(n), len(b)):]
	}
	return nil
}

func parseMessage(b []byte) (message, error) {
	typ := binary.NativeEndian.Uint16(b[4:])
	m := message{seq: binary.NativeEndian.Uint32(b[8:])}
	switch {
	case typ == nlmsgError:
		// struct nlmsgerr {int error; struct nlmsghdr msg; ...}: error
		// is a negative errno, in host order.
		if len(b) < nlmsgHdrLen+4 {
			return m, fmt.Errorf("netlink error message: %w", errTruncated)
		}
		code := int32(binary.NativeEndian.Uint32(b[nlmsgHdrLen:]))
		if code == 0 {
			m.kind = kindAck
		} else {
			m.kind, m.errno = kindError, syscall.Errno(-int64(code))
		}
	case typ == nfnlSubsysQueue<<8|nfqnlMsgPacket:
		if len(b) < nlmsgHdrLen+nfgenMsgLen {
			return m, fmt.Errorf("queued packet message: %w", errTruncated)
		}
		hdr, err := findAttr(b[nlmsgHdrLen+nfgenMsgLen:], nfqaPacketHdr)
		if err != nil {
			return m, fmt.Errorf("queued packet message: %w", err)
		}
		if len(hdr) < packetHdrLen {
			return m, fmt.Errorf("queued packet message: NFQA_PACKET_HDR of %d bytes, want %d", len(hdr), packetHdrLen)
		}
		m.kind, m.packetID = kindPacket, binary.BigEndian.Uint32(hdr)
	}
	return m, nil
}

// findAttr returns the payload of the first attribute of type typ (its
// flag bits masked off) in attrs.
func findAttr(attrs []byte, typ uint16) ([]byte, error) {
	for len(attrs) > 0 {
		if len(attrs) < nlaHdrLen {
			return nil, fmt.Errorf("attribute header: %w", errTruncated)
		}
		n := int(binary.NativeEndian.Uint16(attrs))
		if n < nlaHdrLen || n > len(attrs) {
			return nil, fmt.Errorf("attribute length %d with %d bytes left: %w", n, len(attrs), errTruncated)
		}
		if binary.NativeEndian.Uint16(attrs[2:])&nlaTypeMask == typ {
			return attrs[nlaHdrLen:n], nil
		}
		attrs = attrs[min(align4(n), len(attrs)):]
	}
	return nil, fmt.Errorf("no attribute of type %d", typ)
}
