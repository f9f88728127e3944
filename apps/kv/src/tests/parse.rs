use alloc::vec::Vec;
use core::ops::Range;

use crate::resp::{Limits, Parse, ProtoError, parse, parse_i64};

fn args<'a>(buf: &'a [u8], r: &[Range<usize>]) -> Vec<&'a [u8]> {
    r.iter().map(|g| &buf[g.clone()]).collect()
}

#[test]
fn multibulk_and_inline_commands() {
    let l = Limits::default();
    let mut r = Vec::new();
    let buf = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*1\r\n$4\r\nPING\r\n";
    let Parse::Complete(n) = parse(buf, &l, &mut r) else {
        panic!()
    };
    assert_eq!(args(buf, &r), [&b"SET"[..], b"k", b""]);
    assert_eq!(parse(&buf[n..], &l, &mut r), Parse::Complete(14));
    assert_eq!(args(&buf[n..], &r), [&b"PING"[..]]);

    let buf = b"set  a \"b c\"\r\nPING\n";
    assert_eq!(parse(buf, &l, &mut r), Parse::Complete(14));
    assert_eq!(args(buf, &r), [&b"set"[..], b"a", b"b c"]);
    assert_eq!(parse(&buf[14..], &l, &mut r), Parse::Complete(5));
    assert_eq!(args(&buf[14..], &r), [&b"PING"[..]]);
    // Empty lines and *0 are requests with no arguments (skipped, no reply).
    assert_eq!(parse(b"\r\n", &l, &mut r), Parse::Complete(2));
    assert!(r.is_empty());
    assert_eq!(parse(b"*0\r\n", &l, &mut r), Parse::Complete(4));
    assert!(r.is_empty());
}

#[test]
fn every_prefix_of_a_request_is_partial() {
    let l = Limits::default();
    let mut r = Vec::new();
    let buf = b"*2\r\n$3\r\nGET\r\n$10\r\n0123456789\r\n";
    for cut in 0..buf.len() {
        assert_eq!(parse(&buf[..cut], &l, &mut r), Parse::Partial, "cut {cut}");
    }
    assert_eq!(parse(buf, &l, &mut r), Parse::Complete(buf.len()));
    for cut in 0..5 {
        assert_eq!(parse(&b"PING\r\n"[..cut], &l, &mut r), Parse::Partial);
    }
}

#[test]
fn malformed_requests_are_redis_protocol_errors() {
    let l = Limits {
        max_request: 64,
        max_args: 4,
    };
    let mut r = Vec::new();
    let cases: &[(&[u8], ProtoError)] = &[
        (b"*x\r\n", ProtoError::MultibulkLength),
        (b"*5\r\n", ProtoError::MultibulkLength),
        (b"*1\r\n+GET\r\n", ProtoError::ExpectedDollar(b'+')),
        (b"*1\r\n$-1\r\n", ProtoError::BulkLength),
        (b"*1\r\n$99\r\n", ProtoError::BulkLength),
        (b"*1\r\n$1\r\nab\r\n", ProtoError::MissingCrlf),
        (b"GET \"a\r\n", ProtoError::UnbalancedQuotes),
        (b"GET \"a\"b\r\n", ProtoError::UnbalancedQuotes),
        (&[b'a'; 64], ProtoError::InlineTooBig),
        (b"a b c d e\r\n", ProtoError::MultibulkLength),
    ];
    for (buf, e) in cases {
        assert_eq!(parse(buf, &l, &mut r), Parse::Error(*e), "{:?}", buf);
    }
    // A count line without its CRLF at the bound is an error, not partial for good.
    let tight = Limits {
        max_request: 4,
        max_args: 4,
    };
    assert_eq!(
        parse(b"*2\r\0", &tight, &mut r),
        Parse::Error(ProtoError::BulkLength)
    );
    // A request that would exceed the bound is refused before it is all buffered.
    assert_eq!(
        parse(b"*2\r\n$3\r\nGET\r\n$50\r\n", &l, &mut r),
        Parse::Error(ProtoError::BulkLength)
    );
    let mut msg = Vec::new();
    ProtoError::ExpectedDollar(b'+').write_message(&mut msg);
    assert_eq!(msg, b"-ERR Protocol error: expected '$', got '+'\r\n");
}

#[test]
fn integers_parse_as_redis_reads_them() {
    assert_eq!(parse_i64(b"0"), Some(0));
    assert_eq!(parse_i64(b"-42"), Some(-42));
    assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
    assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
    for bad in [
        &b""[..],
        b"-",
        b"+1",
        b"01",
        b"-0",
        b"1 ",
        b"9223372036854775808",
        b"1.5",
    ] {
        assert_eq!(parse_i64(bad), None, "{bad:?}");
    }
}

#[test]
fn replies_write_numbers_as_fmt_does() {
    use crate::reply;
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut samples = alloc::vec![
        0i64,
        1,
        -1,
        9,
        10,
        -10,
        99,
        100,
        i64::MAX,
        i64::MIN,
        i64::MIN + 1
    ];
    for _ in 0..2000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        // Every magnitude: shift a random word right by a random amount.
        samples.push((x as i64) >> (x >> 58));
    }
    for n in samples {
        let mut out = Vec::new();
        reply::int(&mut out, n);
        assert_eq!(out, alloc::format!(":{n}\r\n").into_bytes());
        out.clear();
        reply::decimal(&mut out, n);
        assert_eq!(out, alloc::format!("{n}").into_bytes());
    }
    let mut out = Vec::new();
    reply::bulk(&mut out, b"abc");
    reply::array(&mut out, 12);
    assert_eq!(out, b"$3\r\nabc\r\n*12\r\n");
}

#[test]
fn the_quick_number_path_parses_as_the_general_one() {
    use crate::resp::parse_general;
    let l = Limits {
        max_request: 256,
        max_args: 8,
    };
    let seeds: [&[u8]; 6] = [
        b"*3\r\n$3\r\nSET\r\n$16\r\nkey:000000012345\r\n$3\r\nxxx\r\n",
        b"*2\r\n$4\r\nINCR\r\n$0\r\n\r\n",
        b"*1\r\n$-1\r\n",
        b"*-1\r\n*0\r\n*01\r\n$1\r\nx\r\n",
        b"*2\r\n$012\r\n$99999999999999999999\r\n",
        b"*9\r\n$300\r\n",
    ];
    // Bytes that matter to the number lines, swapped in at random places.
    let alphabet = b"0123456789-+$*\r\n x";
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for round in 0..20_000 {
        let mut buf = seeds[round % seeds.len()].to_vec();
        for _ in 0..(round % 4) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = (x as usize) % buf.len();
            buf[at] = alphabet[(x >> 32) as usize % alphabet.len()];
        }
        for end in 0..=buf.len() {
            let p = parse(&buf[..end], &l, &mut a);
            let q = parse_general(&buf[..end], &l, &mut b);
            assert_eq!((&p, &a), (&q, &b), "{:?}", &buf[..end]);
        }
    }
}
