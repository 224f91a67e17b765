//! Reading JSON answers with errors that say what is wrong without quoting values.

use serde_json::{Map, Value};

use super::Error;
use crate::https::Response;

/// The service's error (`{"code": ..., "message": ...}`) for status >= 400.
pub(crate) fn check_status(
    call: &str,
    service: &'static str,
    response: &Response,
) -> Result<(), Error> {
    if response.status < 400 {
        return Ok(());
    }
    let parsed: Option<Map<String, Value>> = serde_json::from_slice(&response.body).ok();
    let text = |name| {
        parsed
            .as_ref()
            .and_then(|m| m.get(name))
            .and_then(Value::as_str)
            .map(printable)
            .filter(|t| !t.is_empty())
    };
    let message = text("message").unwrap_or_else(|| {
        // Not the usual JSON: show a bounded, printable start of the body.
        let snippet = printable(&String::from_utf8_lossy(&response.body));
        if snippet.is_empty() {
            "(no message)".to_owned()
        } else {
            snippet
        }
    });
    Err(Error::Api {
        call: call.to_owned(),
        service,
        status: response.status,
        code: text("code").unwrap_or_else(|| "-".to_owned()),
        message,
    })
}

/// Server text as it may be logged or shown: control characters (line breaks, terminal
/// escapes) removed, so an answer cannot forge log lines or drive a terminal, and at most 200
/// characters.
pub(crate) fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// The body as a JSON object; truncation and syntax errors are told apart.
pub(crate) fn object(call: &str, body: &[u8]) -> Result<Map<String, Value>, Error> {
    let answer = |problem: String| Error::Answer {
        call: call.to_owned(),
        problem,
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(answer("empty".into()));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(answer("not a JSON object".into())),
        Err(e) if e.is_eof() => Err(answer(format!(
            "truncated JSON (it ends after {} bytes)",
            body.len()
        ))),
        Err(e) => Err(answer(format!(
            "malformed JSON (line {} column {})",
            e.line(),
            e.column()
        ))),
    }
}

/// A non-empty string field.
pub(crate) fn string<'a>(
    call: &str,
    map: &'a Map<String, Value>,
    name: &str,
) -> Result<&'a str, Error> {
    match map.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim()),
        Some(Value::String(_)) => Err(Error::Answer {
            call: call.to_owned(),
            problem: format!("missing a value for {name}"),
        }),
        Some(_) => Err(Error::Answer {
            call: call.to_owned(),
            problem: format!("not giving {name} as a string"),
        }),
        None => Err(Error::Answer {
            call: call.to_owned(),
            problem: format!("missing {name}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_and_malformed_differ() {
        let e = object("x", br#"{"a": "secret-"#).unwrap_err().to_string();
        assert!(e.contains("truncated") && !e.contains("secret"), "{e}");
        let e = object("x", br#"{"a": tru}"#).unwrap_err().to_string();
        assert!(e.contains("malformed"), "{e}");
        assert!(
            object("x", b"[]")
                .unwrap_err()
                .to_string()
                .contains("not a JSON object")
        );
        assert!(
            object("x", b"  ")
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
    }

    #[test]
    fn api_error_text_loses_its_control_characters() {
        let r = Response {
            status: 400,
            body: "{\"code\":\"X\\u001b[31m1\",\"message\":\"bad\\r\\nINFO forged line \\u0007\u{9b}2J\"}"
                .as_bytes()
                .to_vec(),
            retry_after: None,
        };
        let e = check_status("x", "SORACOM API", &r)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "failed to x: SORACOM API answered HTTP 400 X[31m1: badINFO forged line 2J"
        );
        assert!(!e.chars().any(char::is_control), "{e:?}");
        assert_eq!(printable(&"é".repeat(300)).chars().count(), 200);
    }

    #[test]
    fn api_errors_name_code_and_message() {
        let r = Response {
            status: 401,
            body: br#"{"code":"AUM0004","message":"Invalid AuthKey"}"#.to_vec(),
            retry_after: None,
        };
        let e = check_status("authenticate", "SORACOM API", &r)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "failed to authenticate: SORACOM API answered HTTP 401 AUM0004: Invalid AuthKey"
        );
        let r = Response {
            status: 502,
            body: b"<html>bad gateway</html>".to_vec(),
            retry_after: None,
        };
        let e = check_status("x", "SORACOM API", &r)
            .unwrap_err()
            .to_string();
        assert!(e.contains("502 -: <html>bad gateway</html>"), "{e}");
    }
}
