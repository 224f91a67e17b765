//! The scalar parsers on their own.

use std::time::Duration;

use crate::config::values::{ByteSize, Cidr, Dur, Mark, Mask, PortRange, parse_u32};

#[test]
fn durations() {
    let d = |s: &str| s.parse::<Dur>().map(|d| d.0);
    assert_eq!(d("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(d("3s"), Ok(Duration::from_secs(3)));
    assert_eq!(d("1m"), Ok(Duration::from_secs(60)));
    assert_eq!(d("1h"), Ok(Duration::from_secs(3600)));
    assert_eq!(d("1d"), Ok(Duration::from_secs(86_400)));
    assert_eq!(d("0s"), Ok(Duration::ZERO));
    for bad in [
        "",
        "s",
        "3",
        "3 s",
        "-3s",
        "1.5s",
        "3sec",
        "3S",
        "99999999999999999999d",
    ] {
        assert!(d(bad).is_err(), "{bad} parsed");
    }
}

#[test]
fn byte_sizes() {
    let b = |s: &str| s.parse::<ByteSize>().map(|b| b.0);
    assert_eq!(b("1000"), Ok(1000));
    assert_eq!(b("1GiB"), Ok(1 << 30));
    assert_eq!(b("500MB"), Ok(500_000_000));
    assert_eq!(b("100MiB"), Ok(100 << 20));
    assert_eq!(b("2KB"), Ok(2000));
    assert_eq!(b("7B"), Ok(7));
    for bad in ["", "GiB", "1.5GiB", "1gib", "1XB", "99999999999TiB"] {
        assert!(b(bad).is_err(), "{bad} parsed");
    }
}

#[test]
fn cidrs() {
    let c = |s: &str| s.parse::<Cidr>().map(|c| c.0.to_string());
    assert_eq!(c("192.0.2.0/24"), Ok("192.0.2.0/24".into()));
    assert_eq!(c("192.0.2.7"), Ok("192.0.2.7/32".into()));
    assert_eq!(c("2001:db8::/32"), Ok("2001:db8::/32".into()));
    assert_eq!(c("2001:db8::1"), Ok("2001:db8::1/128".into()));
    assert!(
        c("192.0.2.1/24")
            .unwrap_err()
            .contains("did you mean 192.0.2.0/24")
    );
    for bad in [
        "",
        "192.0.2.0/",
        "192.0.2.0/33",
        "host/24",
        "2001:db8::/129",
    ] {
        assert!(c(bad).is_err(), "{bad} parsed");
    }
}

#[test]
fn marks() {
    assert_eq!(
        "0x1/0xff".parse::<Mark>(),
        Ok(Mark {
            value: 1,
            mask: 0xff
        })
    );
    assert_eq!(
        "16".parse::<Mark>(),
        Ok(Mark {
            value: 16,
            mask: u32::MAX
        })
    );
    assert_eq!(
        "0x10/255".parse::<Mark>(),
        Ok(Mark {
            value: 16,
            mask: 255
        })
    );
    for bad in ["", "0x", "1/", "/1", "0x1/0xff/1", "0x100000000", "abc"] {
        assert!(bad.parse::<Mark>().is_err(), "{bad} parsed");
    }
    assert_eq!(
        Mark {
            value: 1,
            mask: 0xff
        }
        .to_string(),
        "0x1/0xff"
    );
}

#[test]
fn masks_and_u32() {
    assert_eq!("0x00ff0000".parse::<Mask>(), Ok(Mask(0x00ff_0000)));
    assert_eq!("16711680".parse::<Mask>(), Ok(Mask(0x00ff_0000)));
    assert_eq!(parse_u32("0XFF"), Some(255));
    assert_eq!(parse_u32("4294967296"), None);
    assert_eq!(parse_u32("-1"), None);
}

#[test]
fn port_ranges() {
    let p = |s: &str| s.parse::<PortRange>();
    assert_eq!(
        p("443"),
        Ok(PortRange {
            start: 443,
            end: 443
        })
    );
    assert_eq!(
        p("8000-9000"),
        Ok(PortRange {
            start: 8000,
            end: 9000
        })
    );
    assert!(
        p("9000-8000")
            .unwrap_err()
            .contains("did you mean 8000-9000")
    );
    for bad in ["", "0", "65536", "1-", "-1", "a-b", "1-2-3"] {
        assert!(p(bad).is_err(), "{bad} parsed");
    }
    assert_eq!(PortRange { start: 1, end: 2 }.to_string(), "1-2");
    assert_eq!(PortRange { start: 80, end: 80 }.to_string(), "80");
}
