//! Which tables reach the downstream, with the original's rules (tidb-binlog `pkg/filter`):
//! names compared lower-cased; a pattern is a case-insensitive regular expression, anchored at
//! both ends unless it starts with `~`; when any do-rule is set only tables a do-rule names
//! pass; then a table an ignore-rule names is dropped.
//!
//! The drainer's `[syncer] replicate-do-db`, `[[syncer.replicate-do-table]]`, `ignore-schemas`
//! and `[[syncer.ignore-table]]`, and reparo's `replicate-do-db`, `[[replicate-do-table]]`,
//! `replicate-ignore-db` and `[[replicate-ignore-table]]`, are these rules
//! ([`TableFilter::from_rules`]).

use regex::Regex;
use serde::{Deserialize, Serialize};

use binlog_node::{Error, Result};

/// A `{db-name, tbl-name}` table rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct TableName {
    /// Database name (a `~` prefix makes it a regex).
    pub db_name: String,
    /// Table name (a `~` prefix makes it a regex).
    pub tbl_name: String,
}

/// One name pattern.
#[derive(Debug)]
struct Pattern(Regex);

impl Pattern {
    fn new(pattern: &str, key: &str) -> Result<Pattern> {
        let expression = match pattern.strip_prefix('~') {
            Some(unanchored) => format!("(?i){unanchored}"),
            None => format!("(?i)^{pattern}$"),
        };
        Regex::new(&expression).map(Pattern).map_err(|error| {
            Error::InvalidConfig(format!(
                "{key}: {pattern:?} is not a valid pattern: {error}"
            ))
        })
    }

    fn matches(&self, name: &str) -> bool {
        self.0.is_match(name)
    }
}

/// A `{db-name, tbl-name}` rule.
#[derive(Debug)]
struct TablePattern {
    db: Pattern,
    table: Pattern,
}

impl TablePattern {
    fn new(rule: &TableName, key: &str) -> Result<TablePattern> {
        Ok(TablePattern {
            db: Pattern::new(&rule.db_name, key)?,
            table: Pattern::new(&rule.tbl_name, key)?,
        })
    }

    fn matches(&self, db: &str, table: &str) -> bool {
        self.db.matches(db) && self.table.matches(table)
    }
}

/// The table filter of `[syncer]`.
#[derive(Debug, Default)]
pub struct TableFilter {
    do_dbs: Vec<Pattern>,
    do_tables: Vec<TablePattern>,
    ignore_dbs: Vec<Pattern>,
    ignore_tables: Vec<TablePattern>,
}

impl TableFilter {
    /// The filter of do-databases, do-tables, ignore-databases and ignore-tables, each given
    /// with the key it comes from (named in the error for an invalid pattern). Blank database
    /// names are left out.
    pub fn from_rules(
        do_dbs: (&str, &[String]),
        do_tables: (&str, &[TableName]),
        ignore_dbs: (&str, &[String]),
        ignore_tables: (&str, &[TableName]),
    ) -> Result<TableFilter> {
        let dbs = |(key, names): (&str, &[String])| {
            names
                .iter()
                .map(|name| name.trim())
                .filter(|name| !name.is_empty())
                .map(|name| Pattern::new(name, key))
                .collect::<Result<Vec<_>>>()
        };
        let tables = |(key, rules): (&str, &[TableName])| {
            rules
                .iter()
                .map(|rule| TablePattern::new(rule, key))
                .collect::<Result<Vec<_>>>()
        };
        Ok(TableFilter {
            do_dbs: dbs(do_dbs)?,
            do_tables: tables(do_tables)?,
            ignore_dbs: dbs(ignore_dbs)?,
            ignore_tables: tables(ignore_tables)?,
        })
    }

    /// Whether rows and DDL of `db.table` are left out (`table` empty for a DDL on a whole
    /// database).
    pub fn skips(&self, db: &str, table: &str) -> bool {
        let db = db.to_lowercase();
        let table = table.to_lowercase();
        let any_do = !self.do_dbs.is_empty() || !self.do_tables.is_empty();
        let named_by_do = self.do_dbs.iter().any(|p| p.matches(&db))
            || self.do_tables.iter().any(|p| p.matches(&db, &table));
        if any_do && !named_by_do {
            return true;
        }
        self.ignore_dbs.iter().any(|p| p.matches(&db))
            || self.ignore_tables.iter().any(|p| p.matches(&db, &table))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(db: &str, tbl: &str) -> TableName {
        TableName {
            db_name: db.into(),
            tbl_name: tbl.into(),
        }
    }

    /// The filter of the rules, each under its reparo key.
    fn filter(
        do_dbs: &[String],
        do_tables: &[TableName],
        ignore_dbs: &[String],
        ignore_tables: &[TableName],
    ) -> Result<TableFilter> {
        TableFilter::from_rules(
            ("replicate-do-db", do_dbs),
            ("replicate-do-table", do_tables),
            ("replicate-ignore-db", ignore_dbs),
            ("replicate-ignore-table", ignore_tables),
        )
    }

    #[test]
    fn ignored_schemas_are_anchored_and_case_insensitive() {
        let system = ["INFORMATION_SCHEMA", "PERFORMANCE_SCHEMA", "mysql", " "].map(String::from);
        let filter = filter(&[], &[], &system, &[]).unwrap();
        assert!(filter.skips("mysql", "user"));
        assert!(filter.skips("INFORMATION_SCHEMA", "tables"));
        assert!(filter.skips("performance_schema", "events"));
        assert!(!filter.skips("test", "t"));
        assert!(!filter.skips("mysqlx", "t"), "patterns are anchored");
    }

    #[test]
    fn do_rules_let_only_their_tables_through_and_ignore_rules_win() {
        let filter = filter(
            &["Sales".into()],
            &[table("hr", "~^emp")],
            &[],
            &[table("sales", "secret")],
        )
        .unwrap();
        assert!(!filter.skips("sales", "orders"));
        assert!(!filter.skips("SALES", "Orders"), "case-insensitive");
        assert!(filter.skips("sales", "secret"));
        assert!(!filter.skips("hr", "employees"));
        assert!(filter.skips("hr", "payroll"));
        assert!(filter.skips("other", "t"));
    }

    #[test]
    fn a_bad_pattern_is_a_config_error_naming_it() {
        let error = filter(&[], &[], &[], &[table("db", "~(")])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("replicate-ignore-table") && error.contains("\"~(\""),
            "{error}"
        );
    }
}
