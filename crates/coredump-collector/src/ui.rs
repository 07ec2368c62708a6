//! The web UI: server-rendered HTML, no scripts. Every value that came from
//! a dump, an upload or the index goes through [`esc`].

use std::fmt::Write;
use std::time::{Duration, UNIX_EPOCH};

use crate::model::{DebugFileRecord, DumpSummary, GroupRecord, StackFrame, SymbolicationState};
use crate::server::DumpView;

/// Escapes text for HTML element content and double-quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes a path segment for a URL inside an attribute.
fn seg(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `2026-05-20 19:53:12 UTC` from Unix milliseconds.
pub fn time(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    let text = humantime::format_rfc3339_seconds(t).to_string();
    text.replace('T', " ").replace('Z', " UTC")
}

fn size(bytes: i64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / 1024.0 / 1024.0)
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

const STYLE: &str = r#"
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:.7em 1.5em;display:flex;gap:1.5em;align-items:baseline}
header a{color:#cfd8ea;text-decoration:none}header a.brand{color:#fff;font-weight:600}
main{padding:1em 1.5em;max-width:1200px}
h1{font-size:1.35em;margin:.4em 0}h2{font-size:1.1em;margin:1.4em 0 .5em}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde1e8}
th,td{text-align:left;padding:.4em .6em;border-bottom:1px solid #eceef2;vertical-align:top}
th{background:#eef1f5;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
pre{background:#fff;border:1px solid #dde1e8;padding:.7em;overflow:auto}
.muted{color:#6a7385}.badge{display:inline-block;padding:0 .45em;border-radius:4px;font-size:12px;background:#e4e8ef}
.badge.complete{background:#d8f0dd}.badge.pending,.badge.partial{background:#fbeccb}.badge.unavailable{background:#f3d9d9}
ol.bt{list-style:none;padding:0;margin:0;background:#fff;border:1px solid #dde1e8}
ol.bt li{padding:.35em .7em;border-bottom:1px solid #eceef2}
ol.bt li.lib{color:#6a7385}ol.bt li.app .fn{font-weight:600}
.frame-no{display:inline-block;width:2.6em;color:#6a7385}
.inl{margin-left:2.6em;color:#6a7385}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25em 1em;background:#fff;border:1px solid #dde1e8;padding:.7em}
dl.facts dt{color:#6a7385}dl.facts dd{margin:0}
.cmd{background:#1d2330;color:#e8edf5;padding:.7em;border-radius:4px}
a{color:#2456b3}
"#;

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · coredump-collector</title><style>{STYLE}</style></head><body>\
         <header><a class=\"brand\" href=\"/\">coredump-collector</a><a href=\"/\">Groups</a>\
         <a href=\"/debug-files\">Debug files</a><a href=\"/metrics\">Metrics</a></header>\
         <main>{body}</main></body></html>\n",
        esc(title)
    )
}

fn state_badge(state: SymbolicationState) -> String {
    format!("<span class=\"badge {0}\">{0}</span>", state.as_str())
}

/// The group list.
pub fn groups_page(groups: &[GroupRecord], offset: i64, limit: i64) -> String {
    let mut body = String::from("<h1>Crash groups</h1>");
    if groups.is_empty() && offset == 0 {
        body.push_str(
            "<p class=\"muted\">No dumps yet. Send one with \
             <code>curl -H 'Content-Type: application/wasm' --data-binary @app.core.wasm http://HOST/api/v1/dumps</code>.</p>",
        );
        return layout("Crash groups", &body);
    }
    body.push_str(
        "<table id=\"groups\"><thead><tr><th>Crash</th><th>Top frame</th><th>Count</th><th>First seen</th><th>Last seen</th></tr></thead><tbody>",
    );
    for g in groups {
        let _ = write!(
            body,
            "<tr><td><a href=\"/groups/{}\">{}</a><br><span class=\"badge\">{}</span></td><td class=\"mono\">{}</td>\
             <td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            seg(&g.id),
            esc(&g.title),
            esc(&g.trap_kind),
            esc(&g.top_frame),
            g.count,
            esc(&time(g.first_seen)),
            esc(&time(g.last_seen)),
        );
    }
    body.push_str("</tbody></table>");
    let mut nav = String::new();
    if offset > 0 {
        let _ = write!(
            nav,
            "<a href=\"/?offset={}&amp;limit={limit}\">← newer</a> ",
            (offset - limit).max(0)
        );
    }
    if groups.len() as i64 == limit {
        let _ = write!(
            nav,
            "<a href=\"/?offset={}&amp;limit={limit}\">older →</a>",
            offset + limit
        );
    }
    if !nav.is_empty() {
        let _ = write!(body, "<p>{nav}</p>");
    }
    layout("Crash groups", &body)
}

fn dump_rows(dumps: &[DumpSummary]) -> String {
    let mut out = String::from(
        "<table id=\"dumps\"><thead><tr><th>Received</th><th>Dump</th><th>Service</th><th>Version</th><th>Environment</th>\
         <th>Top frame</th><th>Symbols</th><th>Size</th></tr></thead><tbody>",
    );
    for d in dumps {
        let _ = write!(
            out,
            "<tr><td>{}</td><td><a class=\"mono\" href=\"/dumps/{}\">{}</a>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"mono\">{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            esc(&time(d.received_at)),
            seg(&d.id),
            esc(&d.id),
            if d.stored {
                ""
            } else {
                " <span class=\"badge\">file pruned</span>"
            },
            esc(d.service.as_deref().unwrap_or("")),
            esc(d.version.as_deref().unwrap_or("")),
            esc(d.environment.as_deref().unwrap_or("")),
            esc(&d.top_frame),
            state_badge(d.symbolication),
            esc(&size(d.size)),
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// One group and its latest dumps.
pub fn group_page(group: &GroupRecord, dumps: &[DumpSummary]) -> String {
    let mut body = format!("<h1>{}</h1>", esc(&group.title));
    let _ = write!(
        body,
        "<dl class=\"facts\"><dt>Count</dt><dd id=\"count\">{}</dd><dt>First seen</dt><dd>{}</dd>\
         <dt>Last seen</dt><dd>{}</dd><dt>Trap</dt><dd>{}</dd><dt>Top frame</dt><dd class=\"mono\">{}</dd>\
         <dt>Group id</dt><dd class=\"mono\">{}</dd></dl>",
        group.count,
        esc(&time(group.first_seen)),
        esc(&time(group.last_seen)),
        esc(&group.trap_kind),
        esc(&group.top_frame),
        esc(&group.id),
    );
    let _ = write!(
        body,
        "<h2>Fingerprint (version {})</h2><pre>{}</pre><h2>Latest dumps</h2>{}",
        group.fingerprint_version,
        esc(&group.fingerprint),
        dump_rows(dumps)
    );
    if (dumps.len() as i64) < group.count {
        let _ = write!(
            body,
            "<p class=\"muted\">Showing {} of {} dumps; dumps past the retention limits are counted but not listed.</p>",
            dumps.len(),
            group.count
        );
    }
    layout(&group.title, &body)
}

fn frame_html(frame: &StackFrame) -> String {
    let mut out = String::new();
    let class = if !frame.symbolicated || frame.in_app() {
        "app"
    } else {
        "lib"
    };
    let _ = write!(out, "<li class=\"{class}\" id=\"frame-{}\">", frame.index);
    let where_ = format!(
        "{} func[{}] +{:#x}",
        frame.module_name.as_deref().unwrap_or("?"),
        frame.function_index,
        frame.code_offset
    );
    if frame.locations.is_empty() {
        let _ = write!(
            out,
            "<span class=\"frame-no\">#{}</span><span class=\"fn mono\">func[{}]</span> <span class=\"muted mono\">{}</span>",
            frame.index,
            frame.function_index,
            esc(&where_)
        );
    } else {
        let last = frame.locations.len() - 1;
        for (i, location) in frame.locations.iter().enumerate() {
            let name = location
                .function
                .clone()
                .unwrap_or_else(|| format!("func[{}]", frame.function_index));
            let place = match (&location.file, location.line) {
                (Some(file), Some(line)) => match location.column {
                    Some(col) => format!(" at {file}:{line}:{col}"),
                    None => format!(" at {file}:{line}"),
                },
                (Some(file), None) => format!(" at {file}"),
                _ => String::new(),
            };
            if i == 0 {
                let _ = write!(out, "<span class=\"frame-no\">#{}</span>", frame.index);
            } else {
                out.push_str("<br><span class=\"frame-no\"></span>");
            }
            let _ = write!(
                out,
                "<span class=\"fn mono\">{}</span><span class=\"mono\">{}</span>{}",
                esc(&name),
                esc(&place),
                if location.inlined {
                    " <span class=\"badge\">inlined</span>"
                } else {
                    ""
                }
            );
            if i == last {
                let _ = write!(out, " <span class=\"muted mono\">{}</span>", esc(&where_));
            }
        }
    }
    if let Some(note) = &frame.note {
        let _ = write!(out, "<br><span class=\"inl muted\">{}</span>", esc(note));
    }
    out.push_str("</li>");
    out
}

/// A dump's page.
pub fn dump_page(view: &DumpView, group: Option<&GroupRecord>) -> String {
    let d = &view.record;
    let title = format!(
        "{} in {}",
        d.trap_kind,
        crate::fingerprint::headline_frame(&d.stack)
            .map_or("(no frames)".to_string(), |f| f.function_name())
    );
    let mut body = format!("<h1 id=\"title\">{}</h1>", esc(&title));
    if !d.trap_message.is_empty() {
        let _ = write!(
            body,
            "<p class=\"mono\" id=\"trap-message\">{}</p>",
            esc(&d.trap_message)
        );
    }
    let group_link = match group {
        Some(g) => format!(
            "<a href=\"/groups/{}\">{}</a> ({} dump{})",
            seg(&g.id),
            esc(&g.title),
            g.count,
            if g.count == 1 { "" } else { "s" }
        ),
        None => format!("<span class=\"mono\">{}</span>", esc(&d.group_id)),
    };
    let _ = write!(
        body,
        "<dl class=\"facts\"><dt>Dump</dt><dd class=\"mono\">{}</dd><dt>Received</dt><dd>{}</dd>\
         <dt>Group</dt><dd>{}</dd><dt>Service</dt><dd>{}</dd><dt>Version</dt><dd>{}</dd><dt>Environment</dt><dd>{}</dd>\
         <dt>Executable</dt><dd class=\"mono\">{}</dd><dt>Size</dt><dd>{} <span class=\"muted mono\">sha256 {}</span></dd>\
         <dt>Symbolication</dt><dd>{}</dd></dl>",
        esc(&d.id),
        esc(&time(d.received_at)),
        group_link,
        esc(d.service.as_deref().unwrap_or("—")),
        esc(d.version.as_deref().unwrap_or("—")),
        esc(d.environment.as_deref().unwrap_or("—")),
        esc(d.executable.as_deref().unwrap_or("—")),
        esc(&size(d.size)),
        esc(&d.sha256),
        state_badge(d.symbolication),
    );

    let _ = write!(
        body,
        "<h2>Backtrace <span class=\"muted\">(thread {})</span></h2>",
        esc(&d.stack.thread)
    );
    if !d.stack.missing_build_ids.is_empty() {
        let _ = write!(
            body,
            "<p class=\"muted\">Waiting for debug files: {}. Frames are re-symbolicated when they are uploaded.</p>",
            d.stack
                .missing_build_ids
                .iter()
                .map(|b| format!("<code>{}</code>", esc(b)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    body.push_str("<ol class=\"bt\" id=\"backtrace\">");
    for frame in &d.stack.frames {
        body.push_str(&frame_html(frame));
    }
    body.push_str("</ol>");

    body.push_str("<h2>Top frame: arguments and locals</h2>");
    match &d.variables {
        Some(vars) => {
            let _ = write!(
                body,
                "<p class=\"muted\">Frame #{} as the debug file's DWARF describes it, evaluated against the dump.</p>\
                 <table id=\"variables\"><thead><tr><th>Function</th><th>Name</th><th>Type</th><th>Value</th></tr></thead><tbody>",
                vars.frame
            );
            for scope in &vars.scopes {
                for v in &scope.variables {
                    let _ = write!(
                        body,
                        "<tr><td class=\"mono\">{}{}</td><td class=\"mono\">{}{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
                        esc(&scope.function),
                        if scope.inlined { " <span class=\"badge\">inlined</span>" } else { "" },
                        esc(&v.name),
                        if v.parameter { " <span class=\"badge\">arg</span>" } else { "" },
                        esc(&v.type_name),
                        esc(&v.value)
                    );
                }
            }
            body.push_str("</tbody></table>");
        }
        None => body.push_str(
            "<p class=\"muted\" id=\"variables\">No source-level variables: the frame's debug file is missing or has no scope here.</p>",
        ),
    }
    let raw_frame = d.variables.as_ref().map_or(0, |v| v.frame);
    match d.values.iter().find(|v| v.frame == raw_frame) {
        Some(values) if !values.locals.is_empty() || !values.stack.is_empty() => {
            let _ = write!(
                body,
                "<h2>Frame #{raw_frame}: raw WebAssembly values</h2><p class=\"muted\">As the dump records them: the function's parameters first, then its declared locals, then the operand stack.</p>",
            );
            body.push_str("<table id=\"locals\"><thead><tr><th>Slot</th><th>Value</th></tr></thead><tbody>");
            for (i, value) in values.locals.iter().enumerate() {
                let _ = write!(body, "<tr><td class=\"mono\">local {i}</td><td class=\"mono\">{}</td></tr>", esc(value));
            }
            for (i, value) in values.stack.iter().enumerate() {
                let _ = write!(body, "<tr><td class=\"mono\">stack {i}</td><td class=\"mono\">{}</td></tr>", esc(value));
            }
            body.push_str("</tbody></table>");
            if values.truncated {
                body.push_str("<p class=\"muted\">More values were left out.</p>");
            }
        }
        _ => body.push_str(
            "<p class=\"muted\" id=\"locals\">The dump records no raw locals for this frame (native wasmtime capture does not; \
             capture with guest debugging or an instrumented module to get them). Values kept in linear memory are still read from the dump.</p>",
        ),
    }

    body.push_str("<h2>Request context</h2>");
    let context = serde_json::to_string_pretty(&d.context).unwrap_or_default();
    if d.context.as_object().is_some_and(|o| o.is_empty()) {
        body.push_str("<p class=\"muted\" id=\"context\">None was sent with this dump.</p>");
    } else {
        let _ = write!(body, "<pre id=\"context\">{}</pre>", esc(&context));
    }

    body.push_str("<h2>Modules and downloads</h2><table id=\"modules\"><thead><tr><th>#</th><th>Module</th><th>Build id</th><th>Debug file</th></tr></thead><tbody>");
    for m in &d.modules {
        let debug = match (&m.build_id, m.has_debug_file) {
            (Some(b), true) => format!(
                "<a href=\"/api/v1/debug-files/{}\">debug-{}.wasm</a>",
                seg(b),
                esc(b)
            ),
            (Some(b), false) => format!(
                "missing: <code>curl -T app.debug.wasm {}/api/v1/debug-files/{}</code>",
                esc(view.links.symbol_server.trim_end_matches('/')),
                esc(b)
            ),
            (None, _) => "<span class=\"muted\">no build id</span>".to_string(),
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
            m.index,
            esc(m.path.as_deref().unwrap_or(&m.name)),
            esc(m.build_id.as_deref().unwrap_or("—")),
            debug
        );
    }
    body.push_str("</tbody></table><p>");
    if d.stored {
        let _ = write!(
            body,
            "<a id=\"download\" href=\"/api/v1/dumps/{}/raw\">Download the dump</a> ({})",
            seg(&d.id),
            esc(&size(d.size))
        );
    } else {
        body.push_str("<span class=\"muted\">The dump file was pruned by retention; its record remains.</span>");
    }
    let _ = write!(
        body,
        " · <a href=\"/api/v1/dumps/{}\">JSON</a></p>",
        seg(&d.id)
    );

    let _ = write!(
        body,
        "<h2>Debug it</h2><pre class=\"cmd\" id=\"wasmgdb\">{}</pre>\
         <p class=\"muted\">The collector is the symbol server: wasmgdb fetches debug files from \
         <code>/buildid/&lt;build id&gt;/debuginfo</code> (debuginfod layout) or <code>/api/v1/debug-files/&lt;build id&gt;</code>.</p>",
        esc(&view.wasmgdb_command)
    );
    layout(&title, &body)
}

/// The debug-file list.
pub fn debug_files_page(files: &[DebugFileRecord], base: &str) -> String {
    let mut body = String::from("<h1>Debug files</h1>");
    let _ = write!(
        body,
        "<p class=\"muted\">Upload: <code>curl -T app.debug.wasm -H 'Authorization: Bearer TOKEN' {}/api/v1/debug-files/BUILD_ID</code></p>",
        esc(base)
    );
    body.push_str("<table id=\"debug-files\"><thead><tr><th>Build id</th><th>Size</th><th>Uploaded</th><th>Waiting dumps</th></tr></thead><tbody>");
    for f in files {
        let _ = write!(
            body,
            "<tr><td class=\"mono\"><a href=\"/api/v1/debug-files/{}\">{}</a></td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            seg(&f.build_id),
            esc(&f.build_id),
            esc(&size(f.size)),
            esc(&time(f.uploaded_at)),
            f.waiting_dumps
        );
    }
    body.push_str("</tbody></table>");
    layout("Debug files", &body)
}

/// The login form (read token → cookie).
pub fn login_page(next: &str, message: Option<&str>) -> String {
    let mut body = String::from("<h1>Sign in</h1>");
    if let Some(message) = message {
        let _ = write!(body, "<p id=\"login-error\">{}</p>", esc(message));
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"next\" value=\"{}\">\
         <label>Read token <input type=\"password\" name=\"token\" autocomplete=\"off\" autofocus></label> \
         <button type=\"submit\">Sign in</button></form>",
        esc(next)
    );
    layout("Sign in", &body)
}

/// An error page.
pub fn error_page(status: u16, message: &str) -> String {
    layout(
        &format!("Error {status}"),
        &format!("<h1>Error {status}</h1><p>{}</p>", esc(message)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
        assert!(time(0).starts_with("1970-01-01 00:00:00"));
    }
}
