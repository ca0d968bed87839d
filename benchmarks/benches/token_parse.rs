//! Token validation: `AccessToken::parse` and `RefreshToken::parse` of a real-sized token
//! (about 700 characters), beside copying the same text into a `String` (the floor any
//! parse pays, since it takes ownership of the text). `access_token_without_drop` leaves
//! the token's drop (which zeroes the text) out of the timing: it comes out no faster, so
//! the zeroing is not where the time goes.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use signalwire_fabric::{AccessToken, RefreshToken};
use signalwire_fabric_benchmarks::{access_text, refresh_text};

fn token_parse(c: &mut Criterion) {
    let access = access_text("parse");
    let refresh = refresh_text("parse");
    let mut group = c.benchmark_group("token_parse");
    group.bench_function("copy_only", |b| {
        b.iter(|| black_box(black_box(access.as_str()).to_owned()))
    });
    group.bench_function("access_token", |b| {
        b.iter(|| black_box(AccessToken::parse(black_box(access.as_str())).expect("valid")))
    });
    group.bench_function("access_token_without_drop", |b| {
        b.iter_with_large_drop(|| AccessToken::parse(black_box(access.as_str())).expect("valid"))
    });
    group.bench_function("refresh_token", |b| {
        b.iter(|| black_box(RefreshToken::parse(black_box(refresh.as_str())).expect("valid")))
    });
    group.finish();
}

criterion_group!(benches, token_parse);
criterion_main!(benches);
