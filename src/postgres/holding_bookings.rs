//! Reads a resource's time-holding bookings for the availability engine straight from the index
//! `booking.bookings_holding_resource_ends_idx`, as an index-only scan does.
//!
//! The engine needs three numbers per booking (start, end, seats), and a busy resource has
//! thousands in a window. Through SQL they cost more than everything else a slot list does:
//! aggregating them into arrays, copying the result row, converting each element. The index
//! holds exactly those values for exactly the holding bookings (it is partial on the holding
//! statuses, keyed by resource and end, with start and seats included), so reading it directly
//! costs what the index scan costs and no more.
//!
//! Same snapshot, locks and serializable-isolation bookkeeping as the executor's index-only
//! scan: the statement's active snapshot, AccessShareLock on the table and the index (kept to
//! the end of the transaction), the heap visited when the visibility map cannot vouch for a
//! page, and a predicate lock on each page it did not visit. Row-level security does not apply
//! here, as it does not to the SECURITY DEFINER functions calling this (their owner is a
//! superuser); they return times only.

use booking_core::availability::{Booking, Interval};
use pgrx::pg_sys;
use pgrx::prelude::TimestampWithTimeZone;
use pgrx::spi::SpiClient;
use pgrx::{PgTupleDesc, Uuid};

use crate::postgres::spi::query;
use crate::postgres::timestamptz_from_unix;

use booking_core::time::POSTGRES_EPOCH_MICROS as PG_EPOCH_MICROS;
use std::ffi::CStr;

// What pgrx's bindings leave out (storage/predicate.h, access/xact.h); the same in 15 to 18.
extern "C-unwind" {
    fn PredicateLockPage(
        relation: pg_sys::Relation,
        blkno: pg_sys::BlockNumber,
        snapshot: pg_sys::Snapshot,
    );
    static XactIsoLevel: std::ffi::c_int;
}

fn relation_oid(name: &CStr, namespace: pg_sys::Oid) -> pg_sys::Oid {
    // SAFETY: plain catalog lookups by name; both raise an ERROR or return InvalidOid.
    let oid = unsafe { pg_sys::get_relname_relid(name.as_ptr(), namespace) };
    if oid == pg_sys::InvalidOid {
        pgrx::error!(
            "booking_ext: relation booking.{} is missing; reinstall the extension",
            name.to_string_lossy()
        );
    }
    oid
}

/// The byte offsets of the index's four columns in an index tuple without NULLs, after
/// checking that they are (uuid, timestamptz, timestamptz, int4): fixed sizes, so the offsets
/// are the same in every tuple.
///
/// SAFETY: `index` must be an open relation.
unsafe fn column_offsets(index: pg_sys::Relation) -> [usize; 4] {
    // SAFETY: an open relation's tuple descriptor lives as long as the relation is open.
    let desc = unsafe { PgTupleDesc::from_pg_unchecked((*index).rd_att) };
    let expected = [
        pg_sys::UUIDOID,
        pg_sys::TIMESTAMPTZOID,
        pg_sys::TIMESTAMPTZOID,
        pg_sys::INT4OID,
    ];
    if desc.len() != expected.len() || desc.iter().zip(expected).any(|(a, t)| a.atttypid != t) {
        pgrx::error!(
            "booking_ext: index booking.bookings_holding_resource_ends_idx is not (resource_id, ends_at) INCLUDE (starts_at, seats)"
        );
    }
    // The data follow the tuple's header, aligned as Postgres aligns it (MAXALIGN); then each
    // column at its type's alignment.
    let align = |offset: usize, to: usize| offset.div_ceil(to) * to;
    let mut offset = align(
        std::mem::size_of::<pg_sys::IndexTupleData>(),
        pg_sys::MAXIMUM_ALIGNOF as usize,
    );
    let mut offsets = [0; 4];
    for (i, a) in desc.iter().enumerate() {
        let alignment = match a.attalign as u8 {
            b'c' => 1,
            b's' => 2,
            b'i' => 4,
            _ => 8,
        };
        offset = align(offset, alignment);
        offsets[i] = offset;
        offset += a.attlen as usize;
    }
    offsets
}

/// How far past the end of a window the index of ends is read. A booking that starts before
/// the window ends may end any time later, but reading every later end would make each check
/// cost as much as the resource's whole future (a lab with two years of bookings read them
/// all for every booking). So the scan stops here, and the few bookings still running then
/// come from the GiST index (long_bookings).
const ENDS_SCAN_REACH: i64 = booking_core::availability::MICROS_PER_DAY;

/// For each `(resource, after, before)`, in order: the holding bookings (pending or approved)
/// of the resource that end after `after` and start before `before` (Unix microseconds), in
/// the order of their ends.
pub fn holding_bookings(client: &SpiClient, requests: &[(Uuid, i64, i64)]) -> Vec<Vec<Booking>> {
    let (mut all, cut) = scan_ends_index(requests);
    // Only a scan stopped at the reach can have left a long booking behind: where the resource's
    // bookings ran out before it, there is none.
    let stopped: Vec<(usize, (Uuid, i64, i64))> = requests
        .iter()
        .enumerate()
        .filter(|(i, _)| cut[*i])
        .map(|(i, r)| (i, *r))
        .collect();
    if !stopped.is_empty() {
        let asked: Vec<(Uuid, i64, i64)> = stopped.iter().map(|(_, r)| *r).collect();
        for (k, booking) in long_bookings(client, &asked) {
            // They end after every booking the scan found: the order of ends holds.
            all[stopped[k].0].push(booking);
        }
    }
    all
}

/// The holding bookings that start before `before` and end more than ENDS_SCAN_REACH after
/// it: those containing [before - 1 µs, before + ENDS_SCAN_REACH + 1 µs), one probe of the
/// GiST index per request, in the order of requests and then of ends.
fn long_bookings(client: &SpiClient, requests: &[(Uuid, i64, i64)]) -> Vec<(usize, Booking)> {
    let ids: Vec<Uuid> = requests.iter().map(|r| r.0).collect();
    let froms: Vec<TimestampWithTimeZone> = requests
        .iter()
        .map(|r| timestamptz_from_unix(r.2 - 1))
        .collect();
    let tos: Vec<TimestampWithTimeZone> = requests
        .iter()
        .map(|r| timestamptz_from_unix(r.2.saturating_add(ENDS_SCAN_REACH + 1)))
        .collect();
    let rows = query(
        client,
        "SELECT r.ord::int4, (extract(epoch FROM lower(b.during)) * 1000000)::int8,
                (extract(epoch FROM upper(b.during)) * 1000000)::int8, b.seats
         FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS r(resource_id, from_at, to_at, ord)
         JOIN booking.bookings b ON b.resource_id = r.resource_id AND booking_internal.holds_time(b.status)
                                AND b.during @> tstzrange(r.from_at, r.to_at)
         ORDER BY r.ord, upper(b.during)",
        &[ids.into(), froms.into(), tos.into()],
    );
    rows.map(|row| {
        let get = |n: usize| row.get::<i64>(n).expect("a column").expect("not null");
        (
            row.get::<i32>(1).unwrap().unwrap() as usize - 1,
            Booking {
                during: Interval::new(get(2), get(3)),
                seats: row.get::<i32>(4).unwrap().unwrap(),
            },
        )
    })
    .collect()
}

/// The part of holding_bookings read from the index of ends, up to ENDS_SCAN_REACH past each
/// window, and for each request whether the scan stopped there (true) or ran out of the
/// resource's bookings first. The relations are opened and the scan begun once for all the
/// requests.
fn scan_ends_index(requests: &[(Uuid, i64, i64)]) -> (Vec<Vec<Booking>>, Vec<bool>) {
    let mut all = Vec::with_capacity(requests.len());
    let mut cut = Vec::with_capacity(requests.len());
    // SAFETY: this follows nodeIndexonlyscan.c's IndexOnlyNext. Every pointer comes from
    // Postgres and is used while the scan is open; the index's columns are checked to be
    // (uuid, timestamptz, timestamptz, int4) before any value is read as such; an ERROR raised
    // midway releases the relations, buffers and memory with the transaction's resource owner.
    unsafe {
        let namespace = pg_sys::get_namespace_oid(c"booking".as_ptr(), false);
        let heap = pg_sys::table_open(
            relation_oid(c"bookings", namespace),
            pg_sys::AccessShareLock as _,
        );
        let index = pg_sys::index_open(
            relation_oid(c"bookings_holding_resource_ends_idx", namespace),
            pg_sys::AccessShareLock as _,
        );
        let offsets = column_offsets(index);
        let snapshot = pg_sys::GetActiveSnapshot();
        // Predicate locks matter to serializable transactions only (PredicateLockPage checks
        // the same, one call per row later).
        let serializable = XactIsoLevel == pg_sys::XACT_SERIALIZABLE as std::ffi::c_int;
        #[cfg(not(feature = "pg18"))]
        let scan = pg_sys::index_beginscan(heap, index, snapshot, 2, 0);
        #[cfg(feature = "pg18")]
        let scan = pg_sys::index_beginscan(heap, index, snapshot, std::ptr::null_mut(), 2, 0);
        (*scan).xs_want_itup = true;

        let heap_slot = pg_sys::table_slot_create(heap, std::ptr::null_mut());
        let mut vm_buffer: pg_sys::Buffer = pg_sys::InvalidBuffer as _;
        let mut values = [pg_sys::Datum::from(0); 4];
        let mut nulls = [false; 4];
        for &(resource, after, before) in requests {
            let mut bookings = Vec::new();
            let mut stopped = false;
            let mut uuid = *resource.as_bytes();
            let mut keys: [pg_sys::ScanKeyData; 2] = std::mem::zeroed();
            pg_sys::ScanKeyInit(
                &mut keys[0],
                1,
                pg_sys::BTEqualStrategyNumber as _,
                pg_sys::Oid::from(pg_sys::F_UUID_EQ),
                pg_sys::Datum::from(uuid.as_mut_ptr()),
            );
            pg_sys::ScanKeyInit(
                &mut keys[1],
                2,
                pg_sys::BTGreaterStrategyNumber as _,
                pg_sys::Oid::from(pg_sys::F_TIMESTAMPTZ_GT),
                pg_sys::Datum::from(after - PG_EPOCH_MICROS),
            );
            pg_sys::index_rescan(scan, keys.as_mut_ptr(), 2, std::ptr::null_mut(), 0);

            loop {
                let tid =
                    pg_sys::index_getnext_tid(scan, pg_sys::ScanDirection::ForwardScanDirection);
                if tid.is_null() {
                    break;
                }
                pgrx::check_for_interrupts!();
                let block = ((*tid).ip_blkid.bi_hi as u32) << 16 | (*tid).ip_blkid.bi_lo as u32;
                let all_visible = pg_sys::visibilitymap_get_status(heap, block, &mut vm_buffer)
                    as u32
                    & pg_sys::VISIBILITYMAP_ALL_VISIBLE
                    != 0;
                if all_visible {
                    if serializable {
                        // Not visiting the heap: lock the page as if it had been read.
                        pg_sys::ffi::pg_guard_ffi_boundary(|| {
                            PredicateLockPage(heap, block, snapshot)
                        });
                    }
                } else {
                    if !pg_sys::index_fetch_heap(scan, heap_slot) {
                        continue; // no version of this booking is visible to the snapshot
                    }
                    pg_sys::ExecClearTuple(heap_slot);
                }
                let itup = (*scan).xs_itup;
                let (end, start, seats) = if (*itup).t_info as u32 & pg_sys::INDEX_NULL_MASK == 0 {
                    // Fixed-size columns and no NULL: each at its offset (what index_getattr's
                    // cached offsets do, without a call per row into Postgres).
                    let data = itup.cast::<u8>();
                    (
                        data.add(offsets[1]).cast::<i64>().read_unaligned(),
                        data.add(offsets[2]).cast::<i64>().read_unaligned(),
                        data.add(offsets[3]).cast::<i32>().read_unaligned(),
                    )
                } else {
                    // (The columns are NOT NULL in the table: not reached, but read safely.)
                    pg_sys::index_deform_tuple(
                        itup,
                        (*scan).xs_itupdesc,
                        values.as_mut_ptr(),
                        nulls.as_mut_ptr(),
                    );
                    if nulls[1..].contains(&true) {
                        continue;
                    }
                    (
                        values[1].value() as i64,
                        values[2].value() as i64,
                        values[3].value() as i32,
                    )
                };
                let (start, end) = (start + PG_EPOCH_MICROS, end + PG_EPOCH_MICROS);
                if end > before.saturating_add(ENDS_SCAN_REACH) {
                    stopped = true;
                    break; // the rest end later still: long_bookings finds those that matter
                }
                if start < before {
                    bookings.push(Booking {
                        during: Interval::new(start, end),
                        seats,
                    });
                }
            }
            all.push(bookings);
            cut.push(stopped);
        }
        if vm_buffer != pg_sys::InvalidBuffer as pg_sys::Buffer {
            pg_sys::ReleaseBuffer(vm_buffer);
        }
        pg_sys::ExecDropSingleTupleTableSlot(heap_slot);
        pg_sys::index_endscan(scan);
        // The locks stay until the end of the transaction, as the executor keeps them.
        pg_sys::index_close(index, pg_sys::NoLock as _);
        pg_sys::table_close(heap, pg_sys::NoLock as _);
    }
    (all, cut)
}
