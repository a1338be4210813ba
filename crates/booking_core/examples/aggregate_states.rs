//! How long the pure aggregate states take, without Postgres: a million random bookings in 50
//! groups (the shape of `make bench-aggregates`'s data), each group's ranges added to a busy-time
//! and a peak-seats state and finalised. Best of 15 rounds.
//!
//!     cargo run --release -p booking_core --example aggregate_states

use booking_core::reporting::{BusyTime, Interval, PeakSeats};
use std::time::Instant;

const GROUPS: usize = 50;
const PER_GROUP: usize = 20_000;

fn main() {
    // xorshift: the same bookings every run, no dependency
    let mut x: u64 = 88_172_645_463_325_252;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let five_minute_steps_in_a_year = 365 * 24 * 12;
    let rows: Vec<(Interval, i32)> = (0..GROUPS * PER_GROUP)
        .map(|_| {
            let start =
                978_307_200_000_000 + (next() % five_minute_steps_in_a_year) as i64 * 300_000_000;
            let minutes = 15 + (next() % 226) as i64;
            (
                Interval {
                    start,
                    end: start + minutes * 60_000_000,
                },
                1 + (next() % 4) as i32,
            )
        })
        .collect();

    let (mut busy_ms, mut peak_ms, mut checksum) = (f64::MAX, f64::MAX, 0i64);
    for _ in 0..15 {
        let t = Instant::now();
        for group in rows.chunks(PER_GROUP) {
            let mut busy = BusyTime::default();
            group.iter().for_each(|&(span, _)| busy.add(Some(span)));
            checksum = checksum.wrapping_add(busy.micros().unwrap());
        }
        busy_ms = busy_ms.min(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        for group in rows.chunks(PER_GROUP) {
            let mut peak = PeakSeats::default();
            group
                .iter()
                .for_each(|&(span, seats)| peak.add(Some(span), seats).unwrap());
            checksum = checksum.wrapping_add(peak.peak());
        }
        peak_ms = peak_ms.min(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("1 000 000 rows in {GROUPS} groups: busy time {busy_ms:.1} ms, peak seats {peak_ms:.1} ms (checksum {checksum})");
}
