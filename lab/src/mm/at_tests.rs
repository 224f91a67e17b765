use super::*;

fn modem() -> Modem {
    Modem::new(
        "490154203237518",
        "8981100000000000001",
        "440103000000001",
        Ip4 {
            address: "198.51.100.130".parse().unwrap(),
            prefix: 26,
            gateway: "198.51.100.129".parse().unwrap(),
            dns: [
                "100.127.0.53".parse().unwrap(),
                "100.127.1.53".parse().unwrap(),
            ],
        },
    )
}

fn text(m: &mut Modem, line: &str) -> String {
    answer(m, line).wire()
}

#[test]
fn identity_and_chained_commands() {
    let mut m = modem();
    assert_eq!(text(&mut m, "AT"), "\r\nOK\r\n");
    assert_eq!(text(&mut m, "AT+CGSN"), "\r\n490154203237518\r\n\r\nOK\r\n");
    let r = answer(&mut m, "AT+COPS=3,0;+COPS?");
    assert_eq!(r.lines, vec!["+COPS: 0,0,\"SORACOM\",7"]);
    let r = answer(&mut m, "AT+COPS=3,2;+COPS?");
    assert_eq!(r.lines, vec!["+COPS: 0,2,\"44010\",7"]);
    assert_eq!(answer(&mut m, "AT+CPOL?").outcome, Outcome::Error);
    // EF_ICCID is BCD with swapped nibbles.
    let r = answer(&mut m, "AT+CRSM=176,12258,0,0,10");
    assert_eq!(r.lines, vec!["+CRSM: 144,0,\"981801000000000000F1\""]);
}

#[test]
fn a_wrong_pin_costs_a_retry_and_three_lock_the_sim() {
    let mut m = modem();
    m.sim = Sim::Pin;
    assert_eq!(answer(&mut m, "AT+CIMI").outcome, Outcome::CmeError(11));
    assert_eq!(
        answer(&mut m, "AT+CPIN=\"0000\"").outcome,
        Outcome::CmeError(16)
    );
    assert_eq!(m.pin_retries, 2);
    assert_eq!(answer(&mut m, "AT+CPIN=\"1234\"").outcome, Outcome::Ok);
    assert_eq!(m.sim, Sim::Ready);
    m.sim = Sim::Pin;
    for _ in 0..3 {
        answer(&mut m, "AT+CPIN=\"9999\"");
    }
    assert_eq!(text(&mut m, "AT+CPIN?"), "\r\n+CPIN: SIM PUK\r\n\r\nOK\r\n");
    assert_eq!(m.pin_attempts, 5);
}

#[test]
fn connect_gives_the_static_config_and_a_drop_ends_it() {
    let mut m = modem();
    assert_eq!(
        answer(&mut m, "AT+CGDCONT=2,\"IP\",\"soracom.io\"").outcome,
        Outcome::Ok
    );
    assert_eq!(answer(&mut m, "AT+CGACT=1,2").outcome, Outcome::Ok);
    let r = answer(&mut m, "AT+CGCONTRDP=2");
    assert_eq!(
        r.lines,
        vec![
            "+CGCONTRDP: 2,5,\"soracom.io\",\"198.51.100.130.255.255.255.192\",\"198.51.100.129\",\"100.127.0.53\",\"100.127.1.53\""
        ]
    );
    assert_eq!(m.deactivate_urc(2), "+CGEV: NW PDN DEACT 2");
    assert!(m.active.is_empty());
    // An APN the network does not know is rejected; so is any connect while unregistered.
    answer(&mut m, "AT+CGDCONT=3,\"IP\",\"other\"");
    assert_eq!(
        answer(&mut m, "AT+CGACT=1,3").outcome,
        Outcome::CmeError(27)
    );
    m.reg = Reg::Searching;
    assert_eq!(
        answer(&mut m, "AT+CGACT=1,2").outcome,
        Outcome::CmeError(30)
    );
    assert_eq!(text(&mut m, "AT+CEREG?"), "\r\n+CEREG: 2,2\r\n\r\nOK\r\n");
}
