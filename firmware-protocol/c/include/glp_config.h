/*
 * gridloop firmware protocol: compile-time configuration. Override any value with -D or by
 * defining it before including glp.h. The checks below stop a build whose settings cannot work.
 */
#ifndef GLP_CONFIG_H
#define GLP_CONFIG_H

/* Largest payload this build accepts. The wire format allows 255 (u8 length field); a small MCU may
 * lower it, but never below the largest message this version defines (CONFIG, 56 bytes). */
#ifndef GLP_MAX_PAYLOAD
#define GLP_MAX_PAYLOAD 255
#endif

/* 1: build HMAC-SHA256 signing and verification (adds ~1.5 KB code, ~300 B RAM per link). */
#ifndef GLP_ENABLE_SIGNING
#define GLP_ENABLE_SIGNING 1
#endif

/* Signed streams (link ids) remembered per link for replay protection. */
#ifndef GLP_SIGN_STREAMS
#define GLP_SIGN_STREAMS 4
#endif

/* Recent timestamps remembered per stream to tell duplicates (REPLAY) from older frames (REORDERED). */
#ifndef GLP_REPLAY_WINDOW
#define GLP_REPLAY_WINDOW 16
#endif

/* A new stream's first timestamp may lag the local signing clock by at most this much (10 us units).
 * 6 000 000 = 60 s, MAVLink's value. */
#ifndef GLP_STALE_WINDOW
#define GLP_STALE_WINDOW 6000000u
#endif

#if GLP_MAX_PAYLOAD > 255
#error "GLP_MAX_PAYLOAD cannot exceed 255: the header's payload length is one byte"
#endif
#if GLP_MAX_PAYLOAD < 56
#error "GLP_MAX_PAYLOAD must hold the largest message of this protocol version (CONFIG, 56 bytes)"
#endif
#if GLP_ENABLE_SIGNING != 0 && GLP_ENABLE_SIGNING != 1
#error "GLP_ENABLE_SIGNING must be 0 or 1"
#endif
#if GLP_SIGN_STREAMS < 1 || GLP_SIGN_STREAMS > 255
#error "GLP_SIGN_STREAMS must be 1..255"
#endif
#if GLP_REPLAY_WINDOW < 1 || GLP_REPLAY_WINDOW > 255
#error "GLP_REPLAY_WINDOW must be 1..255"
#endif

#endif /* GLP_CONFIG_H */
