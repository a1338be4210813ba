use super::*;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Random rows and a brute-force oracle
// ---------------------------------------------------------------------------------------------

/// A row as SQL gives it: a range by its bounds (`None`: empty), and seats.
#[derive(Clone, Copy, Debug)]
struct Row {
    lower: Bound,
    upper: Bound,
    empty: bool,
    seats: i32,
}

impl Row {
    fn span(&self) -> Option<Interval> {
        if self.empty {
            return None;
        }
        interval_from_bounds(self.lower, self.upper).unwrap()
    }

    /// Does the range hold instant `t`? Read from the bounds themselves, not from `span()`.
    fn holds(&self, t: i64) -> bool {
        let above = match self.lower {
            Bound::Unbounded => true,
            Bound::Inclusive(v) => t >= v,
            Bound::Exclusive(v) => t > v,
        };
        let below = match self.upper {
            Bound::Unbounded => true,
            Bound::Inclusive(v) => t <= v,
            Bound::Exclusive(v) => t < v,
        };
        !self.empty && above && below
    }

    fn unbounded(&self) -> bool {
        !self.empty && self.span().is_some_and(|s| !s.is_bounded())
    }
}

fn bound(finite: i64) -> impl Strategy<Value = Bound> {
    prop_oneof![
        1 => Just(Bound::Unbounded),
        6 => Just(Bound::Inclusive(finite)),
        6 => Just(Bound::Exclusive(finite)),
    ]
}

/// Mostly short ranges on a small timeline (so they overlap and touch often), some empty, some
/// unbounded, both bound kinds; 0 to 5 seats.
fn row() -> impl Strategy<Value = Row> {
    (-20i64..20, 0i64..12, 0i32..6, any::<bool>()).prop_flat_map(|(start, len, seats, empty)| {
        (bound(start), bound(start + len)).prop_map(move |(lower, upper)| Row {
            lower,
            upper,
            empty: empty && len % 4 == 0,
            seats,
        })
    })
}

fn rows(max: usize) -> impl Strategy<Value = Vec<Row>> {
    prop::collection::vec(row(), 0..max)
}

/// Every instant where something can change: the finite timeline and both far ends.
fn instants() -> impl Iterator<Item = i64> {
    std::iter::once(UNBOUNDED_BELOW)
        .chain(-40..40)
        .chain(std::iter::once(UNBOUNDED_ABOVE - 1))
}

fn oracle_peak(rows: &[Row]) -> i64 {
    instants()
        .map(|t| {
            rows.iter()
                .filter(|r| r.holds(t))
                .map(|r| r.seats as i64)
                .sum()
        })
        .max()
        .unwrap()
}

fn oracle_covered(rows: &[Row], t: i64) -> bool {
    rows.iter().any(|r| r.holds(t))
}

/// The covered finite instants, or None when the union is unbounded.
fn oracle_busy_micros(rows: &[Row]) -> Option<i64> {
    if rows.iter().any(|r| r.unbounded()) {
        return None;
    }
    Some(instants().filter(|&t| oracle_covered(rows, t)).count() as i64)
}

fn check_union(rows: &[Row], union: &[Interval]) -> Result<(), TestCaseError> {
    for w in union.windows(2) {
        prop_assert!(
            w[0].end < w[1].start,
            "sorted, disjoint, not touching: {:?}",
            union
        );
    }
    for t in instants() {
        let in_union = union.iter().any(|s| s.start <= t && t < s.end);
        prop_assert_eq!(
            in_union,
            oracle_covered(rows, t),
            "instant {}, union {:?}",
            t,
            union
        );
    }
    Ok(())
}

fn peak_of(rows: &[Row]) -> PeakSeats {
    let mut state = PeakSeats::default();
    for r in rows {
        state.add(r.span(), r.seats).unwrap();
    }
    state
}

fn busy_of(rows: &[Row]) -> BusyTime {
    let mut state = BusyTime::default();
    for r in rows {
        state.add(r.span());
    }
    state
}

const CAPACITY: i32 = 7;

fn utilization_of(rows: &[Row], open: Interval) -> Utilization {
    let mut state = Utilization::default();
    for r in rows {
        state.add(r.span(), r.seats, CAPACITY, open).unwrap();
    }
    state
}

fn oracle_held(rows: &[Row], open: Interval) -> i128 {
    (open.start..open.end)
        .map(|t| {
            rows.iter()
                .filter(|r| r.holds(t))
                .map(|r| r.seats as i128)
                .sum::<i128>()
        })
        .sum()
}

/// Rows dealt into `parts` states by `deal` (a part index per row), each state serialised and
/// read back, then merged in the order given: the parallel plan's path.
fn split<T>(rows: &[Row], deal: &[usize], parts: usize, of: impl Fn(&[Row]) -> T) -> Vec<T> {
    (0..parts)
        .map(|p| {
            let part: Vec<Row> = rows
                .iter()
                .zip(deal.iter().cycle())
                .filter(|(_, &d)| d % parts == p)
                .map(|(r, _)| *r)
                .collect();
            of(&part)
        })
        .collect()
}

fn open_span() -> impl Strategy<Value = Interval> {
    (-30i64..30, 1i64..30).prop_map(|(start, len)| Interval {
        start,
        end: start + len,
    })
}

// ---------------------------------------------------------------------------------------------
// Named cases
// ---------------------------------------------------------------------------------------------

#[test]
fn bounds_become_half_open_microsecond_spans() {
    use Bound::*;
    assert_eq!(
        interval_from_bounds(Inclusive(1), Exclusive(3)),
        Ok(Some(Interval { start: 1, end: 3 }))
    );
    assert_eq!(
        interval_from_bounds(Exclusive(1), Inclusive(3)),
        Ok(Some(Interval { start: 2, end: 4 }))
    );
    assert_eq!(
        interval_from_bounds(Exclusive(1), Exclusive(2)),
        Ok(None),
        "(t, t + 1 µs) holds no instant"
    );
    assert_eq!(interval_from_bounds(Inclusive(5), Exclusive(5)), Ok(None));
    assert_eq!(
        interval_from_bounds(Unbounded, Unbounded),
        Ok(Some(Interval {
            start: UNBOUNDED_BELOW,
            end: UNBOUNDED_ABOVE
        }))
    );
    assert_eq!(
        interval_from_bounds(Inclusive(i64::MIN), Exclusive(0)),
        Err(AggregateError::InfiniteBound)
    );
    assert_eq!(
        interval_from_bounds(Inclusive(0), Inclusive(i64::MAX)),
        Err(AggregateError::InfiniteBound)
    );
}

#[test]
fn touching_bookings_do_not_add_up() {
    let mut peak = PeakSeats::default();
    peak.add(Some(Interval { start: 0, end: 10 }), 3).unwrap();
    peak.add(Some(Interval { start: 10, end: 20 }), 4).unwrap();
    assert_eq!(peak.peak(), 4);
    peak.add(Some(Interval { start: 9, end: 11 }), 1).unwrap();
    assert_eq!(peak.peak(), 5);
    assert_eq!(PeakSeats::default().peak(), 0);
    assert_eq!(
        peak.add(Some(Interval { start: 0, end: 1 }), -1),
        Err(AggregateError::NegativeSeats(-1))
    );
}

#[test]
fn busy_time_merges_overlapping_and_touching_ranges() {
    let mut busy = BusyTime::default();
    assert_eq!(busy.union(), None, "no input: NULL, as range_agg");
    busy.add(None);
    assert_eq!(
        busy.union(),
        Some(&[][..]),
        "only empty ranges: an empty union"
    );
    for (start, end) in [(0, 5), (5, 8), (20, 30), (3, 6), (25, 40)] {
        busy.add(Some(Interval { start, end }));
    }
    assert_eq!(
        busy.union(),
        Some(
            &[
                Interval { start: 0, end: 8 },
                Interval { start: 20, end: 40 }
            ][..]
        )
    );
    assert_eq!(busy.micros(), Ok(28));
    busy.add(Some(Interval {
        start: 50,
        end: UNBOUNDED_ABOVE,
    }));
    assert_eq!(busy.micros(), Err(AggregateError::UnboundedBusyTime));
}

#[test]
fn utilization_counts_seat_time_inside_the_opening_period() {
    let open = Interval { start: 0, end: 100 };
    let mut u = Utilization::default();
    assert_eq!(u.ratio(), 0.0);
    u.add(
        Some(Interval {
            start: -50,
            end: 50,
        }),
        2,
        4,
        open,
    )
    .unwrap(); // 50 inside, 2 seats
    u.add(
        Some(Interval {
            start: 90,
            end: UNBOUNDED_ABOVE,
        }),
        1,
        4,
        open,
    )
    .unwrap(); // 10 inside
    assert_eq!(u.ratio(), 110.0 / 400.0);
    assert_eq!(
        u.add(None, 1, 5, open),
        Err(AggregateError::ParametersDiffer)
    );
    assert_eq!(
        u.add(None, 1, 4, Interval { start: 0, end: 99 }),
        Err(AggregateError::ParametersDiffer)
    );
    assert_eq!(
        Utilization::default().add(None, 1, 0, open),
        Err(AggregateError::NonPositiveCapacity(0))
    );
    assert_eq!(
        Utilization::default().add(
            None,
            1,
            1,
            Interval {
                start: UNBOUNDED_BELOW,
                end: 0
            }
        ),
        Err(AggregateError::UnboundedOpenTime)
    );
}

#[test]
fn rating_average_rounds_half_away_from_zero_to_hundredths() {
    let summary = |ratings: &[i32]| {
        let mut s = RatingSummary::default();
        ratings.iter().for_each(|&r| s.add(r).unwrap());
        s
    };
    assert_eq!(summary(&[]).average_hundredths(), None);
    assert_eq!(summary(&[1, 2]).average_hundredths(), Some(150));
    assert_eq!(summary(&[1, 1, 2]).average_hundredths(), Some(133));
    assert_eq!(summary(&[1, 2, 2]).average_hundredths(), Some(167));
    assert_eq!(
        summary(&[4, 5, 5, 5, 5, 5, 5, 5]).average_hundredths(),
        Some(488),
        "4.875"
    );
    assert_eq!(summary(&[5, 3, 5]).histogram(), [0, 0, 1, 0, 2]);
    assert_eq!(
        RatingSummary::default().add(6),
        Err(AggregateError::RatingOutOfRange(6))
    );
    assert_eq!(
        RatingSummary::default().add(0),
        Err(AggregateError::RatingOutOfRange(0))
    );
}

#[test]
fn corrupt_states_are_refused() {
    assert_eq!(
        PeakSeats::from_bytes(&[0; 15]),
        Err(AggregateError::BadState)
    );
    assert_eq!(
        BusyTime::from_bytes(&[0; 16]).err(),
        Some(AggregateError::BadState)
    );
    // a reversed span
    let mut bytes = 1u64.to_le_bytes().to_vec();
    put_span(&mut bytes, Interval { start: 0, end: 1 });
    bytes[8..16].copy_from_slice(&5i64.to_le_bytes());
    assert_eq!(
        BusyTime::from_bytes(&bytes).err(),
        Some(AggregateError::BadState)
    );
    assert_eq!(
        Utilization::from_bytes(&[0; 17]),
        Err(AggregateError::BadState)
    );
    assert_eq!(
        RatingSummary::from_bytes(&[0; 41]),
        Err(AggregateError::BadState)
    );
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// Peak seats equal the most seats the oracle counts at any one instant.
    #[test]
    fn peak_seats_match_the_oracle(rows in rows(40)) {
        prop_assert_eq!(peak_of(&rows).peak(), oracle_peak(&rows));
    }

    /// The union holds exactly the instants some range holds; its length is the number of them.
    #[test]
    fn busy_time_matches_the_oracle(rows in rows(40)) {
        let mut busy = busy_of(&rows);
        prop_assert_eq!(busy.union().is_none(), rows.is_empty(), "NULL exactly when there is no row");
        if let Some(union) = busy.union() {
            check_union(&rows, union)?;
        }
        prop_assert_eq!(busy.micros().ok(), oracle_busy_micros(&rows));
    }

    /// Seat-time inside the period equals the oracle's instant-by-instant sum.
    #[test]
    fn utilization_matches_the_oracle(rows in rows(40), open in open_span()) {
        let u = utilization_of(&rows, open);
        let held = oracle_held(&rows, open);
        prop_assert_eq!(u.held, held);
        prop_assert_eq!(u.ratio(), held as f64 / (CAPACITY as f64 * (open.end - open.start) as f64));
    }

    /// Any split of the rows into one to four parts, each part's state serialised and read
    /// back, merged in any order, gives what the whole gives.
    #[test]
    fn merging_parts_equals_aggregating_the_whole(
        rows in rows(40),
        deal in prop::collection::vec(0usize..4, 1..40),
        parts in 1usize..5,
        open in open_span(),
        ratings in prop::collection::vec(1i32..6, 0..40),
    ) {
        let merged = split(&rows, &deal, parts, peak_of).into_iter().fold(PeakSeats::default(), |mut acc, mut part| {
            acc.merge(PeakSeats::from_bytes(&part.to_bytes()).unwrap());
            acc
        });
        prop_assert_eq!(merged.clone().peak(), oracle_peak(&rows));

        let mut merged = split(&rows, &deal, parts, busy_of).into_iter().fold(BusyTime::default(), |mut acc, mut part| {
            acc.merge(BusyTime::from_bytes(&part.to_bytes()).unwrap());
            acc
        });
        let mut whole = busy_of(&rows);
        prop_assert_eq!(merged.union().map(<[Interval]>::to_vec), whole.union().map(<[Interval]>::to_vec));
        prop_assert_eq!(merged.micros(), whole.micros());

        let merged = split(&rows, &deal, parts, |p| utilization_of(p, open)).into_iter().fold(Utilization::default(), |mut acc, part| {
            acc.merge(&Utilization::from_bytes(&part.to_bytes()).unwrap()).unwrap();
            acc
        });
        prop_assert_eq!(merged.held, oracle_held(&rows, open));
        prop_assert_eq!(merged.ratio(), utilization_of(&rows, open).ratio());

        let mut whole = RatingSummary::default();
        let mut by_part = vec![RatingSummary::default(); parts];
        for (i, &r) in ratings.iter().enumerate() {
            whole.add(r).unwrap();
            by_part[deal[i % deal.len()] % parts].add(r).unwrap();
        }
        let merged = by_part.iter().fold(RatingSummary::default(), |mut acc, part| {
            acc.merge(&RatingSummary::from_bytes(&part.to_bytes()).unwrap());
            acc
        });
        prop_assert_eq!(merged, whole);
        prop_assert_eq!(whole.count(), ratings.len() as i64);
        for stars in 1..=5 {
            prop_assert_eq!(whole.histogram()[stars as usize - 1], ratings.iter().filter(|&&r| r == stars).count() as i64);
        }
    }

    /// A window frame sliding over the rows (each row added, the one `width` before removed):
    /// after every step the moving states answer what the oracle says of the frame's rows, and
    /// removing every row leaves an empty state.
    #[test]
    fn inverse_transitions_undo_rows(rows in rows(40), width in 1usize..8, open in open_span(), ratings in prop::collection::vec(1i32..6, 0..40)) {
        let mut peak = MovingPeakSeats::default();
        let mut busy = MovingBusyTime::default();
        let mut util = Utilization::default();
        for (i, r) in rows.iter().enumerate() {
            peak.add(r.span(), r.seats).unwrap();
            busy.add(r.span());
            util.add(r.span(), r.seats, CAPACITY, open).unwrap();
            let first = (i + 1).saturating_sub(width);
            if i >= width {
                let gone = &rows[i - width];
                peak.remove(gone.span(), gone.seats).unwrap();
                busy.remove(gone.span());
                util.remove(gone.span(), gone.seats, CAPACITY, open).unwrap();
            }
            let frame = &rows[first..=i];
            prop_assert_eq!(peak.peak(), oracle_peak(frame));
            check_union(frame, &busy.union().unwrap())?;
            prop_assert_eq!(busy.micros().ok(), oracle_busy_micros(frame));
            prop_assert_eq!(util.held, oracle_held(frame, open));
        }
        for r in &rows[rows.len().saturating_sub(width)..] {
            peak.remove(r.span(), r.seats).unwrap();
            busy.remove(r.span());
            util.remove(r.span(), r.seats, CAPACITY, open).unwrap();
        }
        prop_assert_eq!(peak, MovingPeakSeats::default());
        prop_assert_eq!(busy.union(), None);
        prop_assert_eq!(util.held, 0);

        let mut summary = RatingSummary::default();
        for (i, &r) in ratings.iter().enumerate() {
            summary.add(r).unwrap();
            if i >= width {
                summary.remove(ratings[i - width]).unwrap();
            }
            let mut frame = RatingSummary::default();
            ratings[(i + 1).saturating_sub(width)..=i].iter().for_each(|&r| frame.add(r).unwrap());
            prop_assert_eq!(summary, frame);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 60, ..ProptestConfig::default() })]

    /// Thousands of rows: the busy-time state merges as it goes (and across a serialised
    /// split) and still holds exactly the oracle's instants.
    #[test]
    fn busy_time_merging_as_it_goes_keeps_the_union(rows in prop::collection::vec(row(), 1000..5000), deal in prop::collection::vec(0usize..2, 1..9)) {
        let mut busy = busy_of(&rows);
        check_union(&rows, busy.union().unwrap())?;
        let mut merged = split(&rows, &deal, 2, busy_of).into_iter().fold(BusyTime::default(), |mut acc, mut part| {
            acc.merge(BusyTime::from_bytes(&part.to_bytes()).unwrap());
            acc
        });
        check_union(&rows, merged.union().unwrap())?;
        prop_assert_eq!(peak_of(&rows).peak(), oracle_peak(&rows));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    /// Thousands of short ranges far apart: the union keeps many ranges, so each merge as it
    /// goes meets an already-merged prefix and new ranges that start before, inside and after
    /// its ranges. Checked instant by instant against a bitmap of the covered instants.
    #[test]
    fn busy_time_merging_into_a_long_union_keeps_it(spans in prop::collection::vec((0i64..60_000, 1i64..40), 2000..8000)) {
        let mut busy = BusyTime::default();
        let mut covered = vec![false; 60_040];
        for &(start, len) in &spans {
            busy.add(Some(Interval { start, end: start + len }));
            covered[start as usize..(start + len) as usize].fill(true);
        }
        let union = busy.union().unwrap().to_vec();
        for w in union.windows(2) {
            prop_assert!(w[0].end < w[1].start, "sorted, disjoint, not touching: {:?}", w);
        }
        let mut from_union = vec![false; 60_040];
        for s in &union {
            from_union[s.start as usize..s.end as usize].fill(true);
        }
        prop_assert!(from_union == covered, "the union covers other instants than the ranges");
        prop_assert_eq!(busy.micros().unwrap(), covered.iter().filter(|&&c| c).count() as i64);
    }
}
