//! The HTML report in a real browser: Debian's `chromium`, headless. CI
//! renders the report of a real replay, takes a screenshot and fails when
//! the screenshot is blank or the page logged anything to its console (a
//! blocked load, a script error: the page must need neither). Two canary
//! pages first prove the check itself can fail: a blank page must read as
//! blank, and a page that breaks its Content-Security-Policy must log.
//!
//! Chromium is installed with apt-get when we run as root and it is
//! missing (a one-time cost on a CI machine); anywhere else the check is
//! skipped with a loud message.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::{describe, is_root, on_path};

/// The browser, installing it first when missing and we run as root with
/// apt-get; `None` (said loudly) when it cannot be had.
pub fn ensure_installed() -> Option<PathBuf> {
    if let Some(p) = find() {
        return Some(p);
    }
    if !is_root() || on_path("apt-get").is_none() {
        eprintln!(
            "\n!!! chromium is not installed: the browser check of the HTML report is SKIPPED.\n\
             !!! Install it (Debian/Ubuntu: `sudo apt-get install -y chromium`) to run it."
        );
        return None;
    }
    for args in [
        vec!["update"],
        vec!["install", "-y", "--no-install-recommends", "chromium"],
    ] {
        let mut cmd = Command::new("apt-get");
        cmd.args(&args).env("DEBIAN_FRONTEND", "noninteractive");
        eprintln!("\n==> chromium: {}", describe(&cmd));
        if !cmd.status().map(|s| s.success()).unwrap_or(false) {
            eprintln!(
                "\n!!! chromium: `{}` failed: the browser check of the HTML report is SKIPPED.",
                describe(&cmd)
            );
            return None;
        }
    }
    let found = find();
    if found.is_none() {
        eprintln!(
            "\n!!! chromium: installed, but no chromium on PATH: the browser check is SKIPPED."
        );
    }
    found
}

fn find() -> Option<PathBuf> {
    ["chromium", "chromium-browser"]
        .iter()
        .find_map(|name| on_path(name))
}

/// What the browser made of a page.
#[derive(Debug)]
pub struct Rendered {
    /// The screenshot.
    pub screenshot: PathBuf,
    /// Its size.
    pub width: u32,
    /// Its size.
    pub height: u32,
    /// Standard deviation of the pixels' luminance (0 to 255): 0 is blank.
    pub luminance_sd: f64,
    /// Share of pixels that are not the background colour.
    pub ink: f64,
    /// Console messages the page logged.
    pub console: Vec<String>,
}

impl Rendered {
    /// Not blank: some contrast and more than a sliver of ink.
    pub fn has_content(&self) -> bool {
        self.luminance_sd > 5.0 && self.ink > 0.01
    }
}

/// Renders `page` headless into `dir/NAME.png` (NAME from the page's file
/// name), in a fresh empty profile.
pub fn render(chromium: &Path, page: &Path, dir: &Path) -> Result<Rendered> {
    let name = page
        .file_stem()
        .and_then(|s| s.to_str())
        .context("a page file name")?;
    let screenshot = dir.join(format!("{name}.png"));
    let profile = dir.join(format!("profile-{name}"));
    if profile.exists() {
        std::fs::remove_dir_all(&profile)
            .with_context(|| format!("cannot empty {}", profile.display()))?;
    }
    std::fs::create_dir_all(&profile)
        .with_context(|| format!("cannot create {}", profile.display()))?;
    let _ = std::fs::remove_file(&screenshot);
    let page = page
        .canonicalize()
        .with_context(|| format!("no page {}", page.display()))?;
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,2400",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("--screenshot={}", screenshot.display()))
    .arg(format!("file://{}", page.display()));
    eprintln!("==> browser: {}", describe(&cmd));
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {}", describe(&cmd)))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || !screenshot.is_file() {
        bail!(
            "{} failed ({}) without a screenshot: {}",
            describe(&cmd),
            out.status,
            stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
        );
    }
    // Chromium logs every console message of the page, whatever its level,
    // as `...:CONSOLE(line)] "text", source: url (line)`.
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    let _ = std::fs::remove_dir_all(&profile);
    let (width, height, luminance_sd, ink) = measure(&screenshot)?;
    Ok(Rendered {
        screenshot,
        width,
        height,
        luminance_sd,
        ink,
        console,
    })
}

/// Size, luminance spread and ink share of a PNG.
fn measure(png_file: &Path) -> Result<(u32, u32, f64, f64)> {
    let file = std::fs::File::open(png_file)
        .with_context(|| format!("cannot open {}", png_file.display()))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder
        .read_info()
        .with_context(|| format!("{} is not a PNG", png_file.display()))?;
    let size = reader
        .output_buffer_size()
        .context("the screenshot is too large to decode")?;
    let mut buf = vec![0; size];
    let info = reader
        .next_frame(&mut buf)
        .with_context(|| format!("cannot decode {}", png_file.display()))?;
    let channels = match info.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => bail!("an indexed PNG after expansion"),
    };
    let pixels = &buf[..info.buffer_size()];
    let lum = |p: &[u8]| -> f64 {
        if channels < 3 {
            f64::from(p[0])
        } else {
            0.2126 * f64::from(p[0]) + 0.7152 * f64::from(p[1]) + 0.0722 * f64::from(p[2])
        }
    };
    let n = (pixels.len() / channels).max(1) as f64;
    let background = pixels
        .get(..channels)
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    let (mut sum, mut sum_sq, mut ink) = (0.0, 0.0, 0usize);
    for p in pixels.chunks_exact(channels) {
        let l = lum(p);
        sum += l;
        sum_sq += l * l;
        if p != background.as_slice() {
            ink += 1;
        }
    }
    let mean = sum / n;
    let sd = (sum_sq / n - mean * mean).max(0.0).sqrt();
    Ok((info.width, info.height, sd, ink as f64 / n))
}

const BLANK: &str =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"/></head><body></body></html>\n";

/// No script: only the Content-Security-Policy the report also carries
/// refuses the image, and the browser says so on the console.
const LOGS: &str = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"/>\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"/>\
</head><body><h1>canary</h1><img src=\"http://127.0.0.1:9/refused.png\" alt=\"\"/></body></html>\n";

/// The whole check of `report`: the canaries, then the report itself.
/// Prints what it measured; an error says what is wrong.
pub fn check(chromium: &Path, report: &Path, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let blank = dir.join("canary-blank.html");
    let logs = dir.join("canary-console.html");
    std::fs::write(&blank, BLANK).context("write the blank canary")?;
    std::fs::write(&logs, LOGS).context("write the console canary")?;
    let r = render(chromium, &blank, dir)?;
    if r.has_content() {
        bail!("the blank canary page reads as not blank ({r:?}): the blank check cannot fail");
    }
    let r = render(chromium, &logs, dir)?;
    if r.console.is_empty() {
        bail!("the console canary logged nothing that was seen: the console check cannot fail");
    }
    let r = render(chromium, report, dir)?;
    eprintln!(
        "browser check: {} rendered {}x{}, luminance sd {:.1}, ink {:.1}%, {} console message(s); screenshot {}",
        report.display(),
        r.width,
        r.height,
        r.luminance_sd,
        r.ink * 100.0,
        r.console.len(),
        r.screenshot.display()
    );
    if !r.has_content() {
        bail!("the report renders blank in chromium: {r:?}");
    }
    if !r.console.is_empty() {
        bail!(
            "the report logged to the browser console:\n{}",
            r.console.join("\n")
        );
    }
    Ok(())
}
