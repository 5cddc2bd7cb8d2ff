//! Memory of a running process, from /proc.

use anyhow::{Context, Result};

/// A `kB` field of /proc/PID/status (VmRSS, VmHWM, ...).
pub fn status_kb(pid: u32, field: &str) -> Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    kb_field(&text, field).with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// Pss of a process from /proc/PID/smaps_rollup, in kB.
pub fn pss_kb(pid: u32) -> Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .with_context(|| format!("reading /proc/{pid}/smaps_rollup"))?;
    kb_field(&text, "Pss").with_context(|| format!("no Pss in /proc/{pid}/smaps_rollup"))
}

/// `pid` and every process descended from it, with its command name.
pub fn tree(pid: u32) -> Vec<(u32, String)> {
    let mut all = Vec::new(); // (pid, ppid, comm)
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses.
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            let comm = stat[open + 1..close].to_string();
            let ppid = stat[close + 1..]
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0);
            all.push((p, ppid, comm));
        }
    }
    let mut out: Vec<(u32, String)> = all
        .iter()
        .filter(|(p, ..)| *p == pid)
        .map(|(p, _, c)| (*p, c.clone()))
        .collect();
    let mut i = 0;
    while i < out.len() {
        let parent = out[i].0;
        out.extend(
            all.iter()
                .filter(|(_, pp, _)| *pp == parent)
                .map(|(p, _, c)| (*p, c.clone())),
        );
        i += 1;
    }
    out
}

fn kb_field(text: &str, field: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_own_memory() {
        let pid = std::process::id();
        assert!(super::status_kb(pid, "VmRSS").unwrap() > 0);
        assert!(super::pss_kb(pid).unwrap() > 0);
        let tree = super::tree(pid);
        assert_eq!(tree[0].0, pid);
    }
}
