//! The partitioners Kafka clients use for keyed records, exactly as they
//! compute them:
//!
//! - murmur2 ([`partition_for_key`]): the Java client's default, kafka-python,
//!   franz-go, librdkafka's `murmur2` / `murmur2_random`;
//! - CRC-32 ([`crc32_partition`]): librdkafka's default `consistent_random`
//!   and `consistent` (kcat, confluent-kafka-python/go/dotnet, node-rdkafka,
//!   rdkafka-rust);
//! - FNV-1a ([`fnv1a_partition`]): Sarama's default, librdkafka's `fnv1a` /
//!   `fnv1a_random`.
//!
//! murmur2 and FNV-1a are written by hand: each is a few lines, and the crates
//! that offer them do not document Kafka's seed and signedness (murmur2) or
//! Sarama's absolute value (FNV-1a), which are the whole point here. CRC-32 is
//! the standard (zlib) one, from crc32fast.

/// Kafka's murmur2 (seed 0x9747b28c) of `data`.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Kafka's default partitioner picks for a non-null key.
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    if partitions <= 0 {
        return 0;
    }
    (murmur2(key) & 0x7fff_ffff) % partitions
}

/// librdkafka's `consistent` partitioner: the CRC-32 (IEEE, as zlib) of the
/// key, unsigned, modulo the partition count.
pub fn crc32_partition(key: &[u8], partitions: i32) -> i32 {
    if partitions <= 0 {
        return 0;
    }
    // The remainder is below `partitions`, so it fits an i32.
    (crc32fast::hash(key) % partitions as u32) as i32
}

/// 32-bit FNV-1a of `data` made non-negative the way Sarama's default hash
/// partitioner (and librdkafka's `rd_fnv1a`) do: read as an i32 and negated
/// when negative (i32::MIN stays 0x8000_0000).
pub fn fnv1a(data: &[u8]) -> u32 {
    const OFFSET: u32 = 0x811c_9dc5;
    const PRIME: u32 = 0x0100_0193;
    let h = data
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u32::from(b)).wrapping_mul(PRIME)) as i32;
    h.wrapping_abs() as u32
}

/// librdkafka's `fnv1a` partitioner (Sarama's default): [`fnv1a`] of the key,
/// unsigned, modulo the partition count.
pub fn fnv1a_partition(key: &[u8], partitions: i32) -> i32 {
    if partitions <= 0 {
        return 0;
    }
    (fnv1a(key) % partitions as u32) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values are from Kafka's own `UtilsTest.testMurmur2`.
    #[test]
    fn matches_kafka_reference_values() {
        let cases: &[(&[u8], i32)] = &[
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58897971,
            ),
            (b"abc", 479470107),
        ];
        for (input, expected) in cases {
            assert_eq!(
                murmur2(input),
                *expected,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    // Expected values are from librdkafka's `unittest_fnv1a` (computed there
    // with Go's hash/fnv and Sarama's absolute value).
    #[test]
    fn fnv1a_matches_librdkafka_reference_values() {
        let unaligned = "PreAmbleWillBeRemoved,ThePrePartThatIs";
        let cases: &[(&str, u32)] = &[
            ("kafka", 0x0d33_c4e1),
            ("giberish123456789", 0x77a5_8295),
            ("1234", 0x023b_dd03),
            ("234", 0x2dea_3cd2),
            ("34", 0x740f_a83e),
            ("4", 0x310c_a263),
            (unaligned, 0x65cb_d69c),
            (&unaligned[1..], 0x6e49_c79a),
            (&unaligned[2..], 0x69ee_d356),
            (&unaligned[3..], 0x6abc_c023),
            ("", 0x7ee3_623b),
        ];
        for (input, expected) in cases {
            assert_eq!(fnv1a(input.as_bytes()), *expected, "{input:?}");
        }
        assert_eq!(fnv1a_partition(b"kafka", 7), 0x0d33_c4e1 % 7);
    }

    // The standard CRC-32 check value, and values zlib gives.
    #[test]
    fn crc32_partitions_are_zlib_crc32_modulo_the_count() {
        assert_eq!(crc32fast::hash(b"123456789"), 0xcbf4_3926);
        // zlib.crc32(b"kafka") = 0x5bbc7517, zlib.crc32(b"foo") = 0x8c736521
        // (above i32::MAX: the remainder is taken unsigned).
        assert_eq!(crc32_partition(b"kafka", 10), (0x5bbc_7517u32 % 10) as i32);
        assert_eq!(crc32_partition(b"foo", 3), (0x8c73_6521u32 % 3) as i32);
        assert_eq!(crc32_partition(b"foo", 3), 2);
    }

    #[test]
    fn partitions_are_in_range() {
        for i in 0..1000u32 {
            let key = i.to_be_bytes();
            for p in [
                partition_for_key(&key, 7),
                crc32_partition(&key, 7),
                fnv1a_partition(&key, 7),
            ] {
                assert!((0..7).contains(&p));
            }
        }
    }
}
