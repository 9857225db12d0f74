//! `dump` and `get`: records as stored, their payloads decoded as [`Binlog`]s.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use binlog_engine::inspect::SegmentItem;
use binlog_engine::record::RecordView;
use binlog_engine::Kind;
use binlog_node::binlog_text::{debug_json, debug_text, summary_line};
use binlog_node::proto::Binlog;
use prost::Message;
use serde_json::{json, Value};

use super::target::Target;
use super::{record_ts, DumpArgs};

/// Which records `dump` prints.
struct Filter {
    kinds: Vec<Kind>,
    from_ts: u64,
    to_ts: u64,
}

impl Filter {
    fn wants(&self, record: &RecordView<'_>) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&record.kind))
            && (self.from_ts..=self.to_ts).contains(&record_ts(record))
    }
}

/// `dump`.
pub fn dump(args: &DumpArgs) -> anyhow::Result<ExitCode> {
    let target = args.target.open()?;
    let filter = Filter {
        kinds: args.kind.iter().map(|&k| k.into()).collect(),
        from_ts: args.from_ts.unwrap_or(0),
        to_ts: args.to_ts.unwrap_or(u64::MAX),
    };
    let ids: Vec<u64> = match args.segment {
        Some(id) if !target.ids.contains(&id) => {
            anyhow::bail!("no segment {id} in {}", target.log_dir.display())
        }
        Some(id) => vec![id],
        None => target.ids.clone(),
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for id in ids {
        let mut failure = Ok(());
        target.inspect(id, |item| {
            if failure.is_ok() {
                failure = print_item(&mut out, id, item, &filter, args);
            }
        })?;
        // A closed pipe (`| head`) ends the dump quietly.
        if let Err(error) = failure {
            if error.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(ExitCode::SUCCESS);
            }
            return Err(error).context("cannot write to stdout");
        }
    }
    out.flush().context("cannot write to stdout")?;
    Ok(ExitCode::SUCCESS)
}

fn print_item(
    out: &mut impl Write,
    segment: u64,
    item: &SegmentItem<'_>,
    filter: &Filter,
    args: &DumpArgs,
) -> std::io::Result<()> {
    match *item {
        SegmentItem::Damaged { offset, fault } if args.json => writeln!(
            out,
            "{}",
            json!({"segment": segment, "offset": offset, "crc": "bad", "fault": fault.describe()})
        ),
        SegmentItem::Damaged { offset, fault } => writeln!(
            out,
            "segment={segment} offset={offset} crc=bad ({})",
            fault.describe()
        ),
        SegmentItem::Record { record, .. } if !filter.wants(&record) => Ok(()),
        SegmentItem::Record { offset, record } if args.json => {
            let mut line = json!({
                "segment": segment,
                "offset": offset,
                "kind": record.kind.name(),
                "start_ts": record.start_ts,
                "commit_ts": record.commit_ts,
                "size": record.payload.len(),
                "crc": "ok",
            });
            if args.decode {
                line["binlog"] = match Binlog::decode(record.payload) {
                    Ok(binlog) => debug_json(&binlog, None),
                    Err(error) => json!({ "error": error.to_string() }),
                };
            }
            writeln!(out, "{line}")
        }
        SegmentItem::Record { offset, record } => {
            writeln!(
                out,
                "segment={segment} offset={offset} kind={} start_ts={} commit_ts={} size={} crc=ok",
                record.kind.name(),
                record.start_ts,
                record.commit_ts,
                record.payload.len()
            )?;
            if args.decode {
                match Binlog::decode(record.payload) {
                    Ok(binlog) => writeln!(out, "    {}", summary_line(&binlog)),
                    Err(error) => writeln!(out, "    payload is not a binlog: {error}"),
                }
            } else {
                Ok(())
            }
        }
    }
}

/// `get <ts>`: the newest record keyed `ts`, as `/debug/binlog/{ts}` shows it.
pub fn get(target: &Target, ts: u64, json: bool) -> anyhow::Result<ExitCode> {
    let mut found: Option<(u64, u64, Vec<u8>)> = None;
    for &id in &target.ids {
        target.inspect(id, |item| {
            if let SegmentItem::Record { offset, record } = item {
                if record.key_ts() == ts {
                    found = Some((id, *offset, record.payload.to_vec()));
                }
            }
        })?;
    }
    let Some((segment, offset, payload)) = found else {
        eprintln!("fail read binlog by ts: {ts}: not found");
        return Ok(ExitCode::from(1));
    };
    eprintln!("binlog {ts}: segment {segment} offset {offset}");
    let binlog = Binlog::decode(&payload[..]).with_context(|| {
        format!("fail read binlog by ts: {ts}: payload at segment {segment} offset {offset} is not a binlog")
    })?;
    // Offline: no TiDB is asked, so there is no MVCC part (the pump's route has one).
    let body = if json {
        Value::to_string(&debug_json(&binlog, None))
    } else {
        debug_text(&binlog, None)
    };
    println!("{body}");
    Ok(ExitCode::SUCCESS)
}
