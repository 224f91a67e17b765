//! The strict reply reader: what ends an answer, what is an error, and that no datagram makes
//! it panic.

use proptest::prelude::*;

use super::*;

fn message(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut buf = Vec::new();
    nlmsg_header(&mut buf, kind, flags, seq);
    buf.extend_from_slice(payload);
    finish(buf)
}

fn errno(code: i32) -> Vec<u8> {
    // The code, then the request's header as the kernel echoes it.
    [code.to_ne_bytes().as_slice(), &[0; 16]].concat()
}

#[test]
fn done_ends_a_dump_and_carries_its_error() {
    let mut r = Replies::new(7);
    let data = [
        message(0x100, 2, 7, &[2, 0, 0, 0]),
        message(0x100, 2, 7, &[2, 0, 0, 0]),
    ]
    .concat();
    assert!(!r.feed(&data).unwrap());
    assert!(
        r.feed(&message(NLMSG_DONE, 2, 7, &0i32.to_ne_bytes()))
            .unwrap()
    );
    assert!(!r.interrupted());
    assert_eq!(r.into_messages().len(), 2);

    let mut r = Replies::new(7);
    let e = r
        .feed(&message(NLMSG_DONE, 2, 7, &(-libc::ENOBUFS).to_ne_bytes()))
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS));
}

#[test]
fn acks_errors_and_short_errors() {
    assert!(
        Replies::new(3)
            .feed(&message(NLMSG_ERROR, 0, 3, &errno(0)))
            .unwrap()
    );
    let e = Replies::new(3)
        .feed(&message(NLMSG_ERROR, 0, 3, &errno(-libc::ENOENT)))
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    // Too short to hold a code: not an ack.
    for short in [&[][..], &[0, 0][..]] {
        let e = Replies::new(3)
            .feed(&message(NLMSG_ERROR, 0, 3, short))
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{short:?}");
        let e = Replies::new(3)
            .feed(&message(NLMSG_DONE, 2, 3, short))
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{short:?}");
    }
    assert_eq!(error_code(&[1]), -libc::EBADMSG);
    assert_eq!(error_code(&0i32.to_ne_bytes()), 0);
}

#[test]
fn interrupted_dumps_stale_answers_overruns_and_broken_framing() {
    let mut r = Replies::new(5);
    assert!(
        !r.feed(&message(0x100, 2 | NLM_F_DUMP_INTR, 5, &[2, 0, 0, 0]))
            .unwrap()
    );
    assert!(
        r.feed(&message(NLMSG_DONE, 2, 5, &0i32.to_ne_bytes()))
            .unwrap()
    );
    assert!(r.interrupted());

    // An answer to an earlier request on the same socket is not this one's.
    let mut r = Replies::new(5);
    assert!(!r.feed(&message(NLMSG_ERROR, 0, 4, &errno(-1))).unwrap());
    assert!(
        !r.feed(&message(NLMSG_DONE, 2, 4, &0i32.to_ne_bytes()))
            .unwrap()
    );
    assert!(r.into_messages().is_empty());

    assert!(
        Replies::new(5)
            .feed(&message(NLMSG_OVERRUN, 0, 5, &[]))
            .is_err()
    );
    let whole = message(0x100, 2, 5, &[2, 0, 0, 0]);
    assert!(
        Replies::new(5).feed(&whole[..whole.len() - 1]).is_err(),
        "cut message"
    );
    assert!(Replies::new(5).feed(&whole[..10]).is_err(), "cut header");
    let mut lying = whole.clone();
    lying[..4].copy_from_slice(&8u32.to_ne_bytes());
    assert!(
        Replies::new(5).feed(&lying).is_err(),
        "length below the header"
    );
}

#[test]
fn an_attribute_too_long_for_its_length_field_is_never_read_back() {
    let mut buf = Vec::new();
    attr(&mut buf, 1, &vec![0; 65_532]);
    assert_eq!(&buf[..2], &[0, 0]);
    assert_eq!(attrs(&buf).count(), 0);
    let mut buf = Vec::new();
    nest(&mut buf, 2, |b| b.extend(std::iter::repeat_n(0, 70_000)));
    assert_eq!(&buf[..2], &[0, 0]);
    assert_eq!(attrs(&buf).count(), 0);
}

proptest! {
    /// Whatever the kernel (or anything else) sends, reading it ends in a value or an error.
    #[test]
    fn arbitrary_replies_never_panic(
        datagrams in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..96), 1..4),
        seq in 0u32..3,
    ) {
        let mut r = Replies::new(seq);
        for d in &datagrams {
            if !matches!(r.feed(d), Ok(false)) {
                break;
            }
        }
        for m in messages(&datagrams[0]) {
            let _ = error_code(m.payload);
            let _ = attrs(m.payload).count();
        }
    }

    /// Well-framed messages with arbitrary types, flags and payloads: the same.
    #[test]
    fn arbitrary_messages_never_panic(
        parts in prop::collection::vec(
            (0u16..8, any::<u16>(), 0u32..2, prop::collection::vec(any::<u8>(), 0..40)),
            1..6,
        ),
    ) {
        let data: Vec<u8> = parts
            .iter()
            .flat_map(|(kind, flags, seq, payload)| message(*kind, *flags, *seq, payload))
            .collect();
        let _ = Replies::new(1).feed(&data);
    }
}
