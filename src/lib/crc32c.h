/*
 * CRC-32C (Castagnoli), the checksum of the disk queue's records.
 *
 * CRC-32C rather than zlib's CRC-32: it detects more error patterns at the lengths we write, and
 * x86-64 computes it with one SSE 4.2 instruction per 8 bytes, so checking every record when a
 * queue is replayed costs less than reading it from disk. Machines without the instruction use a
 * table-driven version (slicing by 8). No shared state beyond tables built once.
 */
#ifndef SL_CRC32C_H
#define SL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Extends crc (0 to start) over p[0..n), with the usual pre- and post-inversion, so that
 * sl_crc32c(sl_crc32c(0, a, na), b, nb) == sl_crc32c(0, a ++ b, na + nb) and
 * sl_crc32c(0, "123456789", 9) == 0xe3069283. Thread-safe.
 */
uint32_t sl_crc32c(uint32_t crc, const void *p, size_t n);

/* The portable version, whatever the CPU offers (for tests comparing the two). */
uint32_t sl_crc32c_sw(uint32_t crc, const void *p, size_t n);

#endif
