//! The shipped monitoring files (`monitoring/`) against the real nodes: the alert rules pass
//! `promtool check rules` and their unit tests (`promtool test rules`), every rule has a case
//! where it fires and one where it does not, and each rule's `expr` label is its expression
//! (the original's disagreed). Every metric the Grafana dashboard and the rules query is
//! exposed by a real pump or a real drainer (writing to a real MariaDB, so that the SQL
//! destination's series exist too), with the label values they select on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use binlog_testkit::mysql_pipeline::{DrainerToml, Expected, MysqlPipeline};
use binlog_testkit::poll::wait_for;
use binlog_testkit::tidb_jobs::{
    column_info, create_schema, create_table, mysql_type, table_info, PK_FLAGS,
};
use binlog_testkit::tidb_rows::{insert_row, Handle, TidbDatum};
use binlog_testkit::tidb_writer::Mutation;
use serde_json::Value;

/// Series TiDB exposes, not our nodes: the dashboard shows TiDB's count of binlogs it skipped
/// because no pump took them, as the original's does.
const FROM_TIDB: &[&str] = &["tidb_server_critical_error_total"];

/// Labels Prometheus adds at scrape time, so no exposition carries them.
const TARGET_LABELS: &[&str] = &["instance", "job"];

/// What a series selector asks for: a metric name and its label matchers.
#[derive(Debug, PartialEq)]
struct Selector {
    name: String,
    /// (label, operator, value).
    matchers: Vec<(String, String, String)>,
}

/// PromQL words that are not metric names when not followed by `(`.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "inf",
    "nan",
];

/// Words followed by a parenthesised list of label names, not by an expression.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The series selectors of a PromQL expression. A small scanner rather than a parser: string
/// literals, range and subquery brackets, label-name lists and function calls are skipped, and
/// any other identifier is a metric name; `{...}` after one holds its matchers.
fn selectors(expr: &str) -> Vec<Selector> {
    let chars: Vec<char> = expr.chars().collect();
    let mut found: Vec<Selector> = Vec::new();
    let mut i = 0;
    // Whether the last token was a metric name, which a `{` then belongs to.
    let mut after_name = false;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i).1;
            after_name = false;
        } else if c == '[' {
            i += chars[i..].iter().position(|&c| c == ']').expect("closed [") + 1;
            after_name = false;
        } else if c == '{' {
            let (matchers, end) = matchers(&chars, i + 1);
            let selector = match found.last_mut() {
                Some(selector) if after_name => selector,
                _ => panic!("a selector without a metric name in {expr}"),
            };
            selector.matchers = matchers;
            i = end;
            after_name = false;
        } else if c == '$' {
            // A Grafana variable ($__rate_interval) outside a string.
            i += 1;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
        } else if c.is_ascii_digit() || c == '.' {
            // Numbers, durations and exponents (`1e3`, `5m`).
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            after_name = false;
        } else if is_ident(c) {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().position(|c| !c.is_whitespace());
            let called = next.is_some_and(|n| chars[i + n] == '(');
            after_name = false;
            if LABEL_LISTS.contains(&word.as_str()) && called {
                let open = i + next.unwrap_or(0);
                i = open
                    + chars[open..]
                        .iter()
                        .position(|&c| c == ')')
                        .expect("closed (")
                    + 1;
            } else if !called && !KEYWORDS.contains(&word.to_ascii_lowercase().as_str()) {
                found.push(Selector {
                    name: word,
                    matchers: Vec::new(),
                });
                after_name = true;
            }
        } else {
            i += 1;
            after_name = false;
        }
    }
    found
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// The string literal opening at `start`: its unescaped text and the index after it.
fn skip_string(chars: &[char], start: usize) -> (String, usize) {
    let quote = chars[start];
    let mut text = String::new();
    let mut i = start + 1;
    while chars[i] != quote {
        if chars[i] == '\\' && quote != '`' {
            i += 1;
        }
        text.push(chars[i]);
        i += 1;
    }
    (text, i + 1)
}

/// The matchers from `start` (after `{`) to the closing `}`, and the index after it.
fn matchers(chars: &[char], start: usize) -> (Vec<(String, String, String)>, usize) {
    let mut matchers = Vec::new();
    let mut i = start;
    loop {
        while chars[i].is_whitespace() || chars[i] == ',' {
            i += 1;
        }
        if chars[i] == '}' {
            return (matchers, i + 1);
        }
        let label_start = i;
        while is_ident(chars[i]) {
            i += 1;
        }
        let label: String = chars[label_start..i].iter().collect();
        while chars[i].is_whitespace() {
            i += 1;
        }
        let op_start = i;
        while matches!(chars[i], '=' | '!' | '~') {
            i += 1;
        }
        let op: String = chars[op_start..i].iter().collect();
        while chars[i].is_whitespace() {
            i += 1;
        }
        let (value, end) = skip_string(chars, i);
        matchers.push((label, op, value));
        i = end;
    }
}

/// A `/metrics` text: each family's type, and each family's samples' labels (a histogram's
/// `_bucket`, `_sum` and `_count` samples count for its family).
#[derive(Default)]
struct Exposition {
    types: BTreeMap<String, String>,
    samples: BTreeMap<String, Vec<BTreeMap<String, String>>>,
}

impl Exposition {
    fn add(&mut self, text: &str) {
        for line in text.lines() {
            if let Some(declared) = line.strip_prefix("# TYPE ") {
                let (name, kind) = declared.split_once(' ').expect("# TYPE name kind");
                self.types.insert(name.to_owned(), kind.to_owned());
            }
        }
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let end = line.find(['{', ' ']).expect("a sample line");
            let name = &line[..end];
            let labels = match line[end..].strip_prefix('{') {
                Some(rest) => {
                    let chars: Vec<char> = rest.chars().collect();
                    matchers(&chars, 0)
                        .0
                        .into_iter()
                        .map(|(label, _, value)| (label, value))
                        .collect()
                }
                None => BTreeMap::new(),
            };
            let family = self.family(name).unwrap_or_else(|| name.to_owned());
            self.samples.entry(family).or_default().push(labels);
        }
    }

    /// The family a queried or sampled name belongs to, if it is exposed.
    fn family(&self, name: &str) -> Option<String> {
        if self.types.contains_key(name) {
            return Some(name.to_owned());
        }
        ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
            let base = name.strip_suffix(suffix)?;
            matches!(
                self.types.get(base).map(String::as_str),
                Some("histogram" | "summary")
            )
            .then(|| base.to_owned())
        })
    }

    /// What is wrong with `selector` against this exposition: its name is not exposed, or no
    /// sample carries a label value it selects with `=` (target labels and Grafana variables
    /// aside).
    fn problem(&self, selector: &Selector) -> Option<String> {
        let Some(family) = self.family(&selector.name) else {
            return Some(format!("{} is not exposed", selector.name));
        };
        let samples = self.samples.get(&family).map(Vec::as_slice).unwrap_or(&[]);
        selector
            .matchers
            .iter()
            .filter(|(label, op, value)| {
                op == "=" && !TARGET_LABELS.contains(&label.as_str()) && !value.contains('$')
            })
            .find(|(label, _, value)| !samples.iter().any(|s| s.get(label) == Some(value)))
            .map(|(label, _, value)| {
                format!(
                    "{}: no sample has {label}=\"{value}\" (samples: {samples:?})",
                    selector.name
                )
            })
    }
}

fn monitoring_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../monitoring")
}

/// Runs promtool with `args` in `dir`; panics with its output unless it succeeds.
fn promtool(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| {
            panic!("promtool cannot run ({error}): install Debian's prometheus package")
        });
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "promtool {args:?} failed:\n{report}"
    );
    report
}

/// The `expr:` values of a rules file in order: each rule's expression, then its `expr` label.
/// The files keep every expression on one line, which this relies on and checks.
fn rule_exprs(rules: &str) -> Vec<(String, String)> {
    let exprs: Vec<&str> = rules
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("expr: "))
        .collect();
    let alerts = rules
        .lines()
        .filter(|line| line.trim_start().starts_with("- alert: "))
        .count();
    assert_eq!(
        exprs.len(),
        2 * alerts,
        "one expr and one expr label per rule"
    );
    exprs
        .chunks(2)
        .map(|pair| (pair[0].to_owned(), pair[1].to_owned()))
        .collect()
}

/// Every `expr` of the dashboard's panels (rows' nested panels too), and its variables'
/// queries.
fn dashboard_queries(dashboard: &Value) -> (Vec<String>, Vec<String>) {
    fn walk(panels: &[Value], exprs: &mut Vec<String>) {
        for panel in panels {
            for target in panel["targets"].as_array().into_iter().flatten() {
                exprs.push(target["expr"].as_str().expect("a target's expr").to_owned());
            }
            walk(
                panel["panels"].as_array().map(Vec::as_slice).unwrap_or(&[]),
                exprs,
            );
        }
    }
    let mut exprs = Vec::new();
    walk(dashboard["panels"].as_array().expect("panels"), &mut exprs);
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("templating")
        .iter()
        .filter(|v| v["type"] == "query")
        .map(|v| {
            let query = &v["query"];
            query["query"]
                .as_str()
                .or(query.as_str())
                .expect("a variable's query")
                .to_owned()
        })
        .collect();
    (exprs, variables)
}

/// The metric of a Grafana `label_values(metric, label)` variable query.
fn label_values_metric(query: &str) -> Selector {
    let args = query
        .strip_prefix("label_values(")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not a label_values query: {query}"));
    let metric = args.split(',').next().unwrap_or_default().trim();
    let mut found = selectors(metric);
    assert_eq!(found.len(), 1, "{query}");
    found.remove(0)
}

#[test]
fn the_scanner_finds_names_and_matchers_only() {
    let found = selectors(
        "sum(rate(a_b_bucket{x=\"1\", y=~\"$v|w\"}[$__rate_interval] offset 5m)) by (nodeID) \
         - on() group_left() max(c:d) > bool 2 * 1e3 and inf < \"str\"",
    );
    let expected = [
        Selector {
            name: "a_b_bucket".into(),
            matchers: vec![
                ("x".into(), "=".into(), "1".into()),
                ("y".into(), "=~".into(), "$v|w".into()),
            ],
        },
        Selector {
            name: "c:d".into(),
            matchers: Vec::new(),
        },
    ];
    assert_eq!(found, expected);
}

#[test]
fn the_alert_rules_pass_promtool_and_their_unit_tests_cover_each_rule_both_ways() {
    let dir = monitoring_dir().join("prometheus");
    let report = promtool(&dir, &["check", "rules", "binlog.rules.yml"]);
    println!("{report}");
    let report = promtool(&dir, &["test", "rules", "binlog.rules.test.yml"]);
    println!("{report}");
    assert!(report.contains("SUCCESS"), "{report}");

    let rules = std::fs::read_to_string(dir.join("binlog.rules.yml")).unwrap();
    for (expr, label) in rule_exprs(&rules) {
        assert_eq!(expr, label, "a rule's expr label is not its expression");
    }
    let alerts: BTreeSet<&str> = rules
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("- alert: "))
        .collect();
    // Each `alertname:` line of the tests is followed by its `exp_alerts`, empty or not.
    let tests = std::fs::read_to_string(dir.join("binlog.rules.test.yml")).unwrap();
    let lines: Vec<&str> = tests.lines().map(str::trim).collect();
    let (mut firing, mut quiet) = (BTreeSet::new(), BTreeSet::new());
    for pair in lines.windows(2) {
        if let Some(name) = pair[0].strip_prefix("alertname: ") {
            match pair[1] {
                "exp_alerts: []" => quiet.insert(name),
                "exp_alerts:" => firing.insert(name),
                other => panic!("after alertname {name}: {other}"),
            };
        }
    }
    assert_eq!(
        firing, alerts,
        "rules without a firing case, or tests of no rule"
    );
    assert_eq!(
        quiet, alerts,
        "rules without a non-firing case, or tests of no rule"
    );
}

/// Commits a database, a table and a row through the pipeline's TiDB, and waits until MariaDB
/// has the row: every series of the SQL destination has been observed.
async fn replicate_a_row(pipeline: &mut MysqlPipeline) -> binlog_testkit::NodeProcess {
    let tidb = &mut pipeline.tidb;
    tidb.run_ddl("CREATE DATABASE `mon`", |job, version| {
        create_schema(job, version, 1, "mon")
    })
    .await;
    let columns = vec![
        column_info(1, "id", 0, mysql_type::LONGLONG, PK_FLAGS),
        column_info(2, "v", 1, mysql_type::VARCHAR, 0),
    ];
    tidb.run_ddl(
        "CREATE TABLE `t` (`id` BIGINT PRIMARY KEY, `v` VARCHAR(64))",
        |job, version| create_table(job, version, 1, "mon", table_info(2, "t", columns)),
    )
    .await;
    tidb.dml(vec![Mutation::new(2).insert(insert_row(
        &Handle::Int(1),
        &[(2, TidbDatum::bytes("one"))],
    ))])
    .await;
    let drainer = pipeline.start_drainer(DrainerToml {
        top: "initial-commit-ts = 0",
        ..DrainerToml::default()
    });
    pipeline.wait_identical(
        &drainer,
        &[Expected::exact("SELECT id, v FROM mon.t", "1\tone\n")],
        Duration::from_secs(60),
    );
    drainer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_metric_the_dashboard_and_the_rules_query_is_exposed_by_a_pump_or_a_drainer() {
    let dir = monitoring_dir();
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("grafana/binlog.json")).expect("the dashboard"),
    )
    .expect("the dashboard is JSON");
    let (exprs, variables) = dashboard_queries(&dashboard);

    // promtool has no expression linter: the dashboard's queries go through it as recording
    // rules. JSON strings are YAML double-quoted scalars.
    let scratch = tempfile::tempdir().unwrap();
    let mut as_rules = String::from("groups:\n- name: dashboard\n  rules:\n");
    for (n, expr) in exprs.iter().enumerate() {
        as_rules += &format!(
            "  - record: dashboard:query_{n}\n    expr: {}\n",
            serde_json::to_string(expr).unwrap()
        );
    }
    std::fs::write(scratch.path().join("dashboard.yml"), as_rules).unwrap();
    promtool(scratch.path(), &["check", "rules", "dashboard.yml"]);

    let mut queried: Vec<(String, Selector)> = Vec::new();
    for expr in &exprs {
        queried.extend(selectors(expr).into_iter().map(|s| (expr.clone(), s)));
    }
    for query in &variables {
        queried.push((query.clone(), label_values_metric(query)));
    }
    let rules =
        std::fs::read_to_string(dir.join("prometheus/binlog.rules.yml")).expect("the rules");
    for (expr, _) in rule_exprs(&rules) {
        queried.extend(selectors(&expr).into_iter().map(|s| (expr.clone(), s)));
    }
    let names: BTreeSet<&str> = queried.iter().map(|(_, s)| s.name.as_str()).collect();
    // The scanner found what the dashboard is for (else it would check nothing).
    for name in [
        "binlog_drainer_checkpoint_lag_seconds",
        "binlog_drainer_pump_lag_seconds",
        "binlog_pump_oldest_pending_prewrite_seconds",
        "binlog_pump_storage_gc_ts",
        "binlog_drainer_ddl_jobs_total",
        FROM_TIDB[0],
    ] {
        assert!(names.contains(name), "{name} is not queried: {names:?}");
    }

    let mut pipeline = MysqlPipeline::start().await;
    let drainer = replicate_a_row(&mut pipeline).await;
    let mut exposed = Exposition::default();
    // The drainer's per-pump series appear once it has read from the pump.
    let drainer_metrics = wait_for(
        "the drainer's per-pump and SQL series",
        Duration::from_secs(30),
        || {
            let text = drainer.get("/metrics");
            (text.contains("binlog_drainer_pump_lag_seconds{")
                && text.contains("binlog_drainer_query_duration_time_count{"))
            .then_some(text)
        },
        || drainer.log(),
    );
    exposed.add(&drainer_metrics);
    exposed.add(&pipeline.pump.get("/metrics"));

    let problems: BTreeSet<String> = queried
        .iter()
        .filter(|(_, selector)| !FROM_TIDB.contains(&selector.name.as_str()))
        .filter_map(|(expr, selector)| {
            exposed
                .problem(selector)
                .map(|problem| format!("{problem}\n    in {expr}"))
        })
        .collect();
    assert!(
        problems.is_empty(),
        "queried but not exposed:\n{}\n\nexposed families: {:?}",
        problems.into_iter().collect::<Vec<_>>().join("\n"),
        exposed.types.keys().collect::<Vec<_>>()
    );
    println!(
        "{} queries, {} metric names, all exposed",
        exprs.len() + variables.len(),
        names.len()
    );
}
