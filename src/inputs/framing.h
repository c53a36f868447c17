/*
 * Framing of a syslog byte stream (TCP, unix stream, TLS): RFC 6587 octet counting
 * ("MSG-LEN SP SYSLOG-MSG") and non-transparent framing (one message per line).
 *
 * A framer is the per-connection state. The input feeds it whatever read() returned, in pieces of
 * any size, and the framer calls back once for every complete frame. A frame that lies wholly
 * inside the fed bytes is passed as a pointer into them, without a copy; only a frame that spans
 * two reads is copied into the framer's own buffer, which never holds more than max_size + 1
 * bytes (+ SL_FRAMER_SLACK), whatever the peer sends.
 *
 * Modes (the `framing` key of a stream input):
 *  - auto (default): detected for every frame from its first byte, as rsyslog does: a digit 1-9
 *    starts an octet count, anything else a line.
 *  - octet-counted: every frame must start with a count.
 *  - lf: every frame is a line; digits at the start are text.
 *
 * Decisions, compared with rsyslog (imtcp/imptcp) and syslog-ng:
 *  - Lines end at LF. One CR right before the LF is taken off (senders with CRLF line ends; this
 *    is what syslog-ng does; rsyslog keeps it and shows it as "#015"); SL_FRAMER_KEEP_CR keeps it.
 *    With SL_FRAMER_NUL_DELIM a NUL ends a line too (rsyslog's AddtlFrameDelimiter="0"). Empty
 *    lines are dropped silently, as rsyslog does.
 *  - Octet-counted frames are passed as they are: a CR or LF counted inside belongs to the
 *    message (the parser may drop a trailing LF, as rsyslog's parser does).
 *  - A count that is not a count (digits not followed by SP, a leading zero in octet-counted mode,
 *    more than max_count) is not trusted: that frame is framed as a line instead, starting with
 *    the digits, and is flagged SL_FRAME_BAD_COUNT. The connection resynchronises at the next LF;
 *    rsyslog falls back to "octet stuffing" in the same way. In auto mode a line starting with
 *    digits (e.g. a bare "2024-01-01 ..." line) takes this path too and carries the flag.
 *  - A frame longer than max_size is cut: its first max_size bytes are passed with
 *    SL_FRAME_TRUNCATED as soon as they are in, and the rest of the frame is skipped (exactly the
 *    declared length for octet counting, up to the next LF for lines). The caller counts it.
 *  - End of stream (sl_framer_finish): a partial line is passed as a frame, as rsyslog does. A
 *    partial octet-counted frame is passed with SL_FRAME_INCOMPLETE, possibly empty when only the
 *    header came (rsyslog discards it with an error message; we hand it to the caller so that
 *    nothing is lost without a counter). Digits alone at the end are a line (SL_FRAME_BAD_COUNT).
 *
 * Concurrency: none. A framer belongs to the thread that owns the connection.
 */
#ifndef SL_FRAMING_H
#define SL_FRAMING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum sl_framing {
    SL_FRAMING_AUTO = 0,
    SL_FRAMING_OCTET = 1, /* octet-counted only */
    SL_FRAMING_LF = 2,    /* non-transparent (line) only */
} sl_framing_t;

/* Options for sl_framer_init. */
enum sl_framer_opt {
    SL_FRAMER_KEEP_CR = 1u << 0,   /* do not take a CR before LF off a line */
    SL_FRAMER_NUL_DELIM = 1u << 1, /* a NUL ends a line as LF does */
};

/* Flags passed with a frame. */
enum sl_frame_flag {
    SL_FRAME_TRUNCATED = 1u << 0,  /* the frame was longer than max_size and was cut */
    SL_FRAME_INCOMPLETE = 1u << 1, /* end of stream inside an octet-counted frame */
    SL_FRAME_BAD_COUNT = 1u << 2,  /* an invalid octet count; framed as a line instead */
};

/* Counts above this are lies (the 2^31 of rsyslog's iOctetsRemain); see max_count. */
#define SL_FRAMER_MAX_COUNT 2147483647u
/* The framer's buffer holds at most max_size + 1 + SL_FRAMER_SLACK bytes. */
#define SL_FRAMER_SLACK 16

/*
 * Called for every frame: frame[0..len) is valid only during the call (it points into the fed
 * bytes or into the framer's buffer). len is 0 only with SL_FRAME_INCOMPLETE. Return 0 to go on,
 * non-zero to make sl_framer_feed return right after this frame (flow control).
 */
typedef int (*sl_frame_cb)(void *ctx, const char *frame, size_t len, unsigned flags);

typedef struct sl_framer {
    uint8_t mode;    /* sl_framing_t */
    uint8_t opts;    /* enum sl_framer_opt */
    uint8_t state;   /* private: where in a frame the stream is */
    uint8_t pending; /* private: flags for the line being collected (SL_FRAME_BAD_COUNT) */
    uint8_t trunc;   /* private: the octet frame being collected is longer than max_size */
    size_t max_size;
    uint32_t max_count; /* counts above are invalid; SL_FRAMER_MAX_COUNT unless changed */
    uint64_t count;     /* private: octet count being read */
    uint64_t remain;    /* private: bytes of the current octet frame still to come */
    size_t want;        /* private: bytes of the current octet frame to pass on */
    char *buf;          /* private: the partial frame */
    size_t len;
    size_t cap;
} sl_framer_t;

/* 0, or -EINVAL for a bad mode or option or max_size outside 1..SL_FRAMER_MAX_COUNT. Allocates
 * nothing; sl_framer_free releases what feeding allocated. */
int sl_framer_init(sl_framer_t *f, sl_framing_t mode, size_t max_size, unsigned opts);

/*
 * Frames data[0..len). Returns len, or fewer when a callback returned non-zero: then the bytes
 * from the returned offset on are not consumed and must be fed again. Returns -ENOMEM when a
 * partial frame could not be buffered; the frames before it were passed on, the stream cannot be
 * framed any further and the connection should be closed.
 */
ssize_t sl_framer_feed(sl_framer_t *f, const char *data, size_t len, sl_frame_cb cb, void *ctx);

/*
 * End of stream: passes a partial frame on (see the decisions above) and resets the framer to
 * the start of a frame. Returns what the callback returned, or 0 when it was not called.
 */
int sl_framer_finish(sl_framer_t *f, sl_frame_cb cb, void *ctx);

/* True when the framer is between frames (nothing partial buffered or being skipped). */
int sl_framer_idle(const sl_framer_t *f);

void sl_framer_free(sl_framer_t *f);

/* "auto", "octet-counted" (or "octet"), "lf": 0 and *out set, or -EINVAL. */
int sl_framing_parse(const char *name, sl_framing_t *out);

const char *sl_framing_name(sl_framing_t mode);

#endif
