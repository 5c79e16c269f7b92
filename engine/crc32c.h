/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of WAL records and
 * snapshots.  Uses the SSE4.2 instruction when the CPU has it, a table
 * otherwise; both give the same values.
 */
#ifndef BOOKD_CRC32C_H
#define BOOKD_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

#endif
