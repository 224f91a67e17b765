//! Whatever the input, parsing returns Ok or Err and never panics.

use proptest::prelude::*;

use crate::config::parse::parse_bytes;
use crate::config::{ConfigError, parse_str};

const EXAMPLE: &str = include_str!("../../../examples/arcway.yaml");

fn no_panic(text: &str) {
    match parse_str(text, "f.yaml") {
        Ok(c) => {
            // A valid configuration must also survive every derived view.
            let _ = (c.summary(), c.layout(), c.engine_settings());
        }
        Err(ConfigError::Invalid(d)) => assert!(!d.is_empty()),
        Err(_) => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_bytes(&bytes, "f.yaml");
    }

    #[test]
    fn yaml_ish_text(text in "[a-z_0-9:{}\\[\\],&*!|>'\"#. \n\t-]{0,300}") {
        no_panic(&text);
    }

    #[test]
    fn keys_of_the_schema_with_odd_values(
        key in prop::sample::select(vec!["version", "arc", "uplinks", "health", "classes", "budget", "routing", "metrics"]),
        value in "[a-z0-9:{}\\[\\],/. -]{0,60}",
    ) {
        no_panic(&format!("{key}: {value}\n"));
        no_panic(&format!("version: 1\n{key}: {value}\n"));
    }

    #[test]
    fn example_with_a_line_removed_or_garbled(line in 0usize..200, garbage in "[a-z0-9:{}\\[\\], -]{0,20}") {
        let lines: Vec<&str> = EXAMPLE.lines().collect();
        let at = line % lines.len();
        let mut removed = lines.clone();
        removed.remove(at);
        no_panic(&removed.join("\n"));
        let mut garbled = lines.clone();
        let replaced = format!("{}{garbage}", lines[at]);
        garbled[at] = &replaced;
        no_panic(&garbled.join("\n"));
    }

    #[test]
    fn example_cut_at_any_point(cut in 0usize..8000) {
        let cut = cut.min(EXAMPLE.len());
        if EXAMPLE.is_char_boundary(cut) {
            no_panic(&EXAMPLE[..cut]);
        }
    }
}
