//! The modem's AT command set as a pure state machine: one command line in, response lines
//! out. It answers what ModemManager 1.20's generic and u-blox plugins send to probe, enable,
//! register and connect a LARA-R2-like modem in ECM bridge mode (static IPv4 from
//! `+CGCONTRDP`); anything else gets `ERROR`, which ModemManager treats as "not supported".
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// 3GPP registration status (`+CREG`/`+CGREG`/`+CEREG` `<stat>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reg {
    Idle = 0,
    Home = 1,
    Searching = 2,
    Denied = 3,
    Roaming = 5,
}

impl Reg {
    pub fn parse(s: &str) -> Option<Reg> {
        Some(match s {
            "idle" | "none" => Reg::Idle,
            "home" => Reg::Home,
            "searching" => Reg::Searching,
            "denied" => Reg::Denied,
            "roaming" => Reg::Roaming,
            _ => return None,
        })
    }
}

/// The SIM lock as `+CPIN?` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sim {
    Ready,
    Pin,
    Puk,
}

/// What the network gives a connected context (from `+CGCONTRDP`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ip4 {
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    pub dns: [Ipv4Addr; 2],
}

/// Everything the modem knows; the lab changes it between commands.
#[derive(Debug, Clone)]
pub struct Modem {
    pub imei: String,
    pub iccid: String,
    pub imsi: String,
    pub operator_code: String,
    pub operator_name: String,
    pub reg: Reg,
    /// `+CSQ` RSSI, 0..=31.
    pub rssi: u8,
    pub sim: Sim,
    pub pin: String,
    pub pin_retries: u8,
    /// `+CPIN=` commands received (right or wrong).
    pub pin_attempts: u32,
    pub ip4: Ip4,
    /// The APNs the network accepts (empty: any).
    pub apns: Vec<String>,
    /// Defined contexts: cid -> APN.
    pub contexts: BTreeMap<u8, String>,
    /// Active contexts.
    pub active: Vec<u8>,
    pub cfun: u8,
    /// Unsolicited result codes enabled (`+CREG=n` etc., `+CMER`, `+CGEREP`).
    pub creg_urc: bool,
    pub cmer: bool,
    /// `+COPS` operator format: 0 long name, 2 numeric.
    pub cops_format: u8,
    /// `+CGACT=1` commands received.
    pub activations: u32,
}

impl Modem {
    pub fn new(imei: &str, iccid: &str, imsi: &str, ip4: Ip4) -> Modem {
        Modem {
            imei: imei.into(),
            iccid: iccid.into(),
            imsi: imsi.into(),
            operator_code: "44010".into(),
            operator_name: "SORACOM".into(),
            reg: Reg::Home,
            rssi: 20,
            sim: Sim::Ready,
            pin: "1234".into(),
            pin_retries: 3,
            pin_attempts: 0,
            ip4,
            apns: vec!["soracom.io".into()],
            contexts: BTreeMap::from([(1, String::new())]),
            active: Vec::new(),
            cfun: 1,
            creg_urc: false,
            cmer: false,
            cops_format: 2,
            activations: 0,
        }
    }

    /// `+CIND` signal indicator 0..=5 from the RSSI.
    pub fn signal_bars(&self) -> u8 {
        ((u32::from(self.rssi.min(31)) * 5 + 15) / 31) as u8
    }

    fn registered(&self) -> bool {
        self.cfun == 1 && matches!(self.reg, Reg::Home | Reg::Roaming)
    }

    /// Registration URCs for the current state (sent when it changes).
    pub fn reg_urcs(&self) -> Vec<String> {
        if !self.creg_urc {
            return Vec::new();
        }
        let stat = self.stat();
        let tail = if self.registered() {
            ",\"0001\",\"01A2D001\",7"
        } else {
            ""
        };
        vec![
            format!("+CREG: {stat}{tail}"),
            format!("+CGREG: {stat}{tail}"),
            format!("+CEREG: {stat}{tail}"),
        ]
    }

    fn stat(&self) -> u8 {
        if self.cfun == 1 { self.reg as u8 } else { 0 }
    }

    /// The URC a network-side deactivation of `cid` produces.
    pub fn deactivate_urc(&mut self, cid: u8) -> String {
        self.active.retain(|c| *c != cid);
        format!("+CGEV: NW PDN DEACT {cid}")
    }
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Error,
    CmeError(u16),
}

/// A command line's answer: information lines and the final result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub lines: Vec<String>,
    pub outcome: Outcome,
}

impl Reply {
    /// The bytes on the wire (verbose result codes, `ATV1`).
    pub fn wire(&self) -> String {
        let mut out = String::new();
        for l in &self.lines {
            out.push_str("\r\n");
            out.push_str(l);
            out.push_str("\r\n");
        }
        out.push_str(match &self.outcome {
            Outcome::Ok => "\r\nOK\r\n",
            Outcome::Error => "\r\nERROR\r\n",
            Outcome::CmeError(_) => "",
        });
        if let Outcome::CmeError(n) = self.outcome {
            out.push_str(&format!("\r\n+CME ERROR: {n}\r\n"));
        }
        out
    }
}

/// Answers one command line (`AT...`, possibly several commands joined by `;`).
pub fn answer(m: &mut Modem, line: &str) -> Reply {
    let body = line.trim();
    let body = match body.get(..2) {
        Some(p) if p.eq_ignore_ascii_case("AT") => &body[2..],
        _ => {
            return Reply {
                lines: vec![],
                outcome: Outcome::Error,
            };
        }
    };
    let mut lines = Vec::new();
    for cmd in split(body) {
        match one(m, cmd.trim()) {
            Ok(mut l) => lines.append(&mut l),
            Err(outcome) => return Reply { lines, outcome },
        }
    }
    Reply {
        lines,
        outcome: Outcome::Ok,
    }
}

/// Splits `+COPS=3,2;+COPS?` at semicolons outside quotes.
fn split(body: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in body.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&body[start..]);
    if body.contains(';') {
        out.retain(|s| !s.trim().is_empty());
    }
    out
}

fn unquote(s: &str) -> &str {
    s.trim().trim_matches('"')
}

fn args(s: &str) -> Vec<&str> {
    s.split(',').map(unquote).collect()
}

fn mask(prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0))
}

/// ICCID digits swapped pairwise as `+CRSM` reads EF_ICCID, padded with F.
fn iccid_bcd(iccid: &str) -> String {
    let mut digits: Vec<char> = iccid.chars().collect();
    while digits.len() < 20 {
        digits.push('F');
    }
    digits.chunks(2).flat_map(|p| [p[1], p[0]]).collect()
}

type Lines = Result<Vec<String>, Outcome>;

fn ok() -> Lines {
    Ok(Vec::new())
}

fn say(line: impl Into<String>) -> Lines {
    Ok(vec![line.into()])
}

fn need_sim(m: &Modem) -> Result<(), Outcome> {
    match m.sim {
        Sim::Ready => Ok(()),
        Sim::Pin => Err(Outcome::CmeError(11)),
        Sim::Puk => Err(Outcome::CmeError(12)),
    }
}

fn one(m: &mut Modem, cmd: &str) -> Lines {
    let upper = cmd.to_ascii_uppercase();
    let (name, rest) = match upper.find(['=', '?']) {
        Some(i) => (&upper[..i], &cmd[i..]),
        None => (upper.as_str(), ""),
    };
    match (name, rest) {
        ("", "") => ok(),
        ("I", "") => Ok(vec!["u-blox".into(), "LARA-R280".into()]),
        ("+CGMI" | "+GMI", "") => say("u-blox"),
        ("+CGMM" | "+GMM", "") => say("LARA-R280"),
        ("+CGMR" | "+GMR", "") => say("30.31"),
        ("+CGSN" | "+GSN", "") => say(m.imei.clone()),
        ("+GCAP", "") => say("+GCAP: +CGSM"),
        ("+CMEE" | "+CSCS" | "+CREG" | "+CGREG" | "+CEREG", r) if r.starts_with('=') => {
            if name.ends_with("REG") {
                m.creg_urc = r != "=0";
            }
            ok()
        }
        ("+CSCS", "=?") => say("+CSCS: (\"IRA\",\"GSM\",\"UCS2\")"),
        ("+CSCS", "?") => say("+CSCS: \"IRA\""),
        ("+WS46", "=?") => say("+WS46: (12,22,25,28,29,30,31)"),
        ("+WS46", "?") => say("+WS46: 28"),
        ("+URAT", "=?") => say("+URAT: (0-6),(0-6)"),
        ("+URAT", "?") => say("+URAT: 3"),
        ("+CFUN", "?") => say(format!("+CFUN: {}", m.cfun)),
        ("+CFUN", r) if r.starts_with('=') => {
            m.cfun = args(&r[1..])
                .first()
                .and_then(|a| a.parse().ok())
                .unwrap_or(1);
            if m.cfun != 1 {
                m.active.clear();
            }
            ok()
        }
        ("+CPIN", "?") => say(match m.sim {
            Sim::Ready => "+CPIN: READY",
            Sim::Pin => "+CPIN: SIM PIN",
            Sim::Puk => "+CPIN: SIM PUK",
        }),
        ("+CPIN", r) if r.starts_with('=') => {
            m.pin_attempts += 1;
            let given = args(&r[1..]);
            if m.sim != Sim::Pin {
                return Err(Outcome::CmeError(3));
            }
            if given.first() == Some(&m.pin.as_str()) {
                m.sim = Sim::Ready;
                m.pin_retries = 3;
                ok()
            } else {
                m.pin_retries = m.pin_retries.saturating_sub(1);
                if m.pin_retries == 0 {
                    m.sim = Sim::Puk;
                }
                Err(Outcome::CmeError(16))
            }
        }
        ("+UPINCNT", "") => say(format!("+UPINCNT: {},3,10,10", m.pin_retries)),
        ("+CPINR", _) => say(format!("+CPINR: SIM PIN,{},3", m.pin_retries)),
        ("+CLCK", "=?") => say("+CLCK: (\"SC\",\"PN\")"),
        ("+CLCK", r) if r.starts_with("=\"SC\",2") || r.starts_with("=\"sc\",2") => say("+CLCK: 1"),
        ("+CLCK", _) => say("+CLCK: 0"),
        ("+CRSM", r) if r.contains("12258") => {
            need_sim(m)?;
            say(format!("+CRSM: 144,0,\"{}\"", iccid_bcd(&m.iccid)))
        }
        ("+CCID", "") => {
            need_sim(m)?;
            say(format!("+CCID: {}", m.iccid))
        }
        ("+CIMI", "") => {
            need_sim(m)?;
            say(m.imsi.clone())
        }
        ("+CNUM", "") => ok(),
        ("+CGDCONT", "=?") => Ok(vec![
            "+CGDCONT: (1-8),\"IP\",,,(0),(0),(0-4),(0)".into(),
            "+CGDCONT: (1-8),\"IPV6\",,,(0),(0),(0-4),(0)".into(),
            "+CGDCONT: (1-8),\"IPV4V6\",,,(0),(0),(0-4),(0)".into(),
        ]),
        ("+CGDCONT", "?") => Ok(m
            .contexts
            .iter()
            .map(|(cid, apn)| format!("+CGDCONT: {cid},\"IP\",\"{apn}\",\"0.0.0.0\",0,0,0,0"))
            .collect()),
        ("+CGDCONT", r) if r.starts_with('=') => {
            let a = args(&r[1..]);
            let cid: u8 = a
                .first()
                .and_then(|c| c.parse().ok())
                .ok_or(Outcome::Error)?;
            match a.get(2) {
                Some(apn) => m.contexts.insert(cid, (*apn).to_owned()),
                None => m.contexts.remove(&cid),
            };
            ok()
        }
        ("+CGACT", "?") => Ok(m
            .contexts
            .keys()
            .map(|cid| format!("+CGACT: {cid},{}", u8::from(m.active.contains(cid))))
            .collect()),
        ("+CGACT", r) if r.starts_with('=') => {
            let a = args(&r[1..]);
            let on = a.first() == Some(&"1");
            let cids: Vec<u8> = a[1..].iter().filter_map(|c| c.parse().ok()).collect();
            if on {
                m.activations += 1;
                if !m.registered() {
                    return Err(Outcome::CmeError(30));
                }
                for cid in cids {
                    let apn = m.contexts.get(&cid).ok_or(Outcome::CmeError(148))?;
                    if !m.apns.is_empty() && !m.apns.iter().any(|a| a.eq_ignore_ascii_case(apn)) {
                        return Err(Outcome::CmeError(27));
                    }
                    if !m.active.contains(&cid) {
                        m.active.push(cid);
                    }
                }
            } else {
                m.active.retain(|c| !cids.contains(c));
            }
            ok()
        }
        ("+UAUTHREQ", "=?") => say("+UAUTHREQ: (1-8),(0-3),,"),
        ("+UAUTHREQ", _) => ok(),
        ("+UUSBCONF", "?") => say("+UUSBCONF: 2,\"ECM\",,\"0x1143\""),
        ("+UBMCONF", "?") => say("+UBMCONF: 2"),
        ("+UIPADDR", r) if r.starts_with('=') => {
            let cid = unquote(&r[1..]);
            say(format!(
                "+UIPADDR: {cid},\"usb0:{cid}\",\"{}\",\"{}\",\"\",\"\"",
                m.ip4.gateway,
                mask(m.ip4.prefix)
            ))
        }
        ("+CGCONTRDP", r) if r.starts_with('=') => {
            let cid: u8 = unquote(&r[1..]).parse().map_err(|_| Outcome::Error)?;
            if !m.active.contains(&cid) {
                return Err(Outcome::CmeError(148));
            }
            let apn = m.contexts.get(&cid).cloned().unwrap_or_default();
            say(format!(
                "+CGCONTRDP: {cid},5,\"{apn}\",\"{}.{}\",\"{}\",\"{}\",\"{}\"",
                m.ip4.address,
                mask(m.ip4.prefix),
                m.ip4.gateway,
                m.ip4.dns[0],
                m.ip4.dns[1]
            ))
        }
        ("+CGEREP", "?") => say("+CGEREP: 2,0"),
        ("+CGEREP", _) => ok(),
        ("+CREG" | "+CGREG" | "+CEREG", "?") => {
            let tail = if m.registered() {
                ",\"0001\",\"01A2D001\",7"
            } else {
                ""
            };
            say(format!("{name}: 2,{}{tail}", m.stat()))
        }
        ("+COPS", "?") => {
            if !m.registered() {
                return say("+COPS: 0");
            }
            match m.cops_format {
                0 => say(format!("+COPS: 0,0,\"{}\",7", m.operator_name)),
                _ => say(format!("+COPS: 0,2,\"{}\",7", m.operator_code)),
            }
        }
        ("+COPS", r) if r.starts_with("=3,") => {
            m.cops_format = if r.ends_with('0') { 0 } else { 2 };
            ok()
        }
        ("+COPS", r) if r.starts_with('=') && r != "=?" => ok(),
        ("+CSQ", "") => say(format!("+CSQ: {},99", m.rssi)),
        ("+CIND", "=?") => say(
            "+CIND: (\"battchg\",(0-5)),(\"signal\",(0-5)),(\"service\",(0-1)),(\"roam\",(0-1))",
        ),
        ("+CIND", "?") => say(format!(
            "+CIND: 5,{},{},{}",
            m.signal_bars(),
            u8::from(m.registered()),
            u8::from(m.reg == Reg::Roaming)
        )),
        ("+CMER", r) if r.starts_with('=') => {
            m.cmer = true;
            ok()
        }
        ("E0" | "E1" | "V1" | "Q0" | "X4" | "&C1" | "&D2" | "Z" | "&F" | "E0V1", "") => ok(),
        _ => Err(Outcome::Error),
    }
}

#[cfg(test)]
#[path = "at_tests.rs"]
mod tests;
