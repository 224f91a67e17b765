//! Prometheus text exposition format (version 0.0.4), written by hand: one family at a
//! time, with HELP and TYPE first and every sample of the family after them.

use std::fmt::Write;

/// Builds the exposition text family by family.
#[derive(Default)]
pub struct Exposition {
    out: String,
}

/// One metric family being written.
pub struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
}

impl Exposition {
    /// Starts a family; `kind` is `gauge` or `counter`.
    pub fn family(&mut self, name: &'static str, kind: &str, help: &str) -> Family<'_> {
        writeln!(self.out, "# HELP {name} {}", escape_help(help)).ok();
        writeln!(self.out, "# TYPE {name} {kind}").ok();
        Family {
            out: &mut self.out,
            name,
        }
    }

    pub fn finish(self) -> String {
        self.out
    }
}

impl Family<'_> {
    pub fn sample(&mut self, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.out.push_str(self.name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                write!(self.out, "{k}=\"{}\"", escape_label(v)).ok();
            }
            self.out.push('}');
        }
        writeln!(self.out, " {}", number(value)).ok();
        self
    }
}

/// Label values escape backslash, double quote and newline.
pub fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// HELP text escapes backslash and newline.
pub fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Integers without a fraction, the special values as Prometheus spells them.
pub fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}
