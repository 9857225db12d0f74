//! `verify` and `repair`: the engine's checks over every file, and its safe repairs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use binlog_engine::inspect::{orphan_index_problems, Problem, RepairAction, SegmentReport};
use serde_json::json;

use super::count;
use super::target::{byte_progress, Access, Target};

/// What a pass over a target found.
struct Findings {
    reports: Vec<SegmentReport>,
    problems: Vec<Problem>,
    repairs: Vec<RepairAction>,
}

/// Inspects every segment of `target`, with a progress bar unless `quiet`.
fn check(target: &Target, quiet: bool) -> anyhow::Result<Findings> {
    let progress = byte_progress(target.total_bytes(), !quiet);
    let reports = target.inspect_all(&progress, |_, _| {})?;
    let (mut problems, mut repairs) = orphan_index_problems(&target.orphan_indexes);
    for report in &reports {
        problems.extend(report.problems.iter().cloned());
        repairs.extend(report.repairs.iter().cloned());
    }
    Ok(Findings {
        reports,
        problems,
        repairs,
    })
}

/// Problems grouped by file, in file name order.
fn by_file(problems: &[Problem]) -> BTreeMap<&Path, Vec<&Problem>> {
    let mut files: BTreeMap<&Path, Vec<&Problem>> = BTreeMap::new();
    for problem in problems {
        files.entry(&problem.file).or_default().push(problem);
    }
    files
}

/// `verify`.
pub fn verify(target: &Target, json: bool) -> anyhow::Result<ExitCode> {
    let findings = check(target, json)?;
    let bytes: u64 = findings.reports.iter().map(|r| r.file_len).sum();
    let records: u64 = findings.reports.iter().map(|r| r.stats.record_count).sum();
    let files = by_file(&findings.problems);
    let notes: Vec<String> = findings
        .reports
        .iter()
        .filter_map(|r| Some(format!("{}: {}", r.path.display(), r.note.as_ref()?)))
        .collect();
    if json {
        let files: Vec<_> = files
            .iter()
            .map(|(file, problems)| {
                json!({
                    "file": file,
                    "first_bad_offset": problems.iter().map(|p| p.offset).min(),
                    "problems": problems.iter().map(|p| json!({
                        "offset": p.offset,
                        "kind": p.kind.name(),
                        "reason": p.reason,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!(
            "{}",
            json!({
                "ok": findings.problems.is_empty(),
                "segments": findings.reports.len(),
                "bytes": bytes,
                "records": records,
                "files": files,
                "notes": notes,
            })
        );
    } else {
        for (file, problems) in &files {
            let first = problems.iter().map(|p| p.offset).min().unwrap_or(0);
            println!("{}: first bad offset {first}", file.display());
            for problem in problems {
                println!(
                    "  offset {} [{}]: {}",
                    problem.offset,
                    problem.kind.name(),
                    problem.reason
                );
            }
        }
        for note in &notes {
            println!("note: {note}");
        }
        println!(
            "{}: {}, {bytes} bytes, {}: {}",
            if findings.problems.is_empty() {
                "OK"
            } else {
                "FAILED"
            },
            count(findings.reports.len() as u64, "segment", "segments"),
            count(records, "record", "records"),
            match findings.problems.len() as u64 {
                0 => "no problems".to_owned(),
                n => format!(
                    "{} in {}",
                    count(n, "problem", "problems"),
                    count(files.len() as u64, "file", "files")
                ),
            }
        );
    }
    Ok(exit_code(findings.problems.is_empty()))
}

fn exit_code(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The problems no repair action addresses: those of files the actions do not touch.
fn unrepairable<'a>(problems: &'a [Problem], repairs: &[RepairAction]) -> Vec<&'a Problem> {
    let fixed: Vec<PathBuf> = repairs.iter().map(RepairAction::file).collect();
    problems
        .iter()
        .filter(|p| !fixed.contains(&p.file))
        .collect()
}

/// `repair`: a dry run unless `apply`. Both need the lock: what a dry run would say about the
/// active segment of a running pump could be wrong by the time `--apply` runs.
pub fn repair(path: &Path, apply: bool) -> anyhow::Result<ExitCode> {
    let mut target = Target::open(path, Access::Repair)?;
    let findings = check(&target, false)?;
    if findings.problems.is_empty() {
        println!("nothing to repair: no problems found");
        return Ok(ExitCode::SUCCESS);
    }
    let left = unrepairable(&findings.problems, &findings.repairs);
    if !apply {
        for action in &findings.repairs {
            println!("would {}", action.describe());
        }
        for problem in &left {
            println!("cannot repair offline: {problem}");
        }
        println!(
            "dry run: nothing changed; run with --apply to make {}",
            count(findings.repairs.len() as u64, "repair", "repairs")
        );
        return Ok(ExitCode::from(1));
    }
    for action in &findings.repairs {
        action
            .apply()
            .with_context(|| format!("cannot {}", action.describe()))?;
        println!("done: {}", action.describe());
    }
    // Check again (repairs removed files, so list them again): what is left is what no
    // repair could fix.
    target.rescan()?;
    let after = check(&target, false)?;
    for problem in &after.problems {
        println!("still wrong: {problem}");
    }
    println!(
        "{} made; {} left",
        count(findings.repairs.len() as u64, "repair", "repairs"),
        count(after.problems.len() as u64, "problem", "problems")
    );
    Ok(exit_code(after.problems.is_empty()))
}
