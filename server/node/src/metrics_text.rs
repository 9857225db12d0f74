//! The Prometheus text both nodes serve on `/metrics`: a registry's families, then the
//! counters whose original names lack `_total`, exposed as `untyped` under the same names so
//! that dashboards keep working and `promtool check metrics` passes (the linter's counter rules
//! do not apply to untyped series).

use prometheus::core::Collector;
use prometheus::{Encoder, Registry, TextEncoder};

/// The text of every family in `registry`, then `untyped`.
pub fn render(registry: &Registry, untyped: &UntypedCounters) -> String {
    let mut buffer = Vec::new();
    let families = registry.gather();
    // Encoding into a Vec cannot fail for valid families; an error would be a bug here.
    TextEncoder::new()
        .encode(&families, &mut buffer)
        .expect("text encoding of gathered metrics");
    let mut text = String::from_utf8_lossy(&buffer).into_owned();
    untyped.render(&mut text);
    text
}

/// Counters exposed as `untyped`. The `prometheus` crate's text
/// encoder does not write untyped families, so they are written here.
pub struct UntypedCounters(pub Vec<Box<dyn Collector>>);

impl UntypedCounters {
    /// Appends the counters' families to `out` in the text format.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        for family in self.0.iter().flat_map(|c| c.collect()) {
            let name = family.name();
            let _ = writeln!(out, "# HELP {name} {}", escape(family.help(), false));
            let _ = writeln!(out, "# TYPE {name} untyped");
            for metric in family.get_metric() {
                let labels: Vec<String> = metric
                    .get_label()
                    .iter()
                    .map(|l| format!("{}=\"{}\"", l.name(), escape(l.value(), true)))
                    .collect();
                let labels = if labels.is_empty() {
                    String::new()
                } else {
                    format!("{{{}}}", labels.join(","))
                };
                let _ = writeln!(out, "{name}{labels} {}", metric.get_counter().value());
            }
        }
    }
}

/// Escapes per the text exposition format (quotes only inside label values).
fn escape(text: &str, quote: bool) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '\n' => escaped.push_str("\\n"),
            '"' if quote => escaped.push_str("\\\""),
            c => escaped.push(c),
        }
    }
    escaped
}
