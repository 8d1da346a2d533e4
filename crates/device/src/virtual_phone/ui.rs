//! What the phone's screen shows and where taps land. Layout lives here once: [`draw`] and
//! [`hit_test`] both derive their rectangles from [`Layout`], so the picture and the touch
//! targets cannot disagree.

use std::collections::BTreeMap;

use crate::identity::Identity;
use crate::keycode::KeyCode;
use crate::render::{Canvas, Rgb, Weight};

use super::Screen;

/// The built-in apps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum App {
    /// Settings, opened on "About phone": the phone's identity.
    Settings,
    /// Notes: a text field receiving text input.
    Notes,
    /// Touch test: draws every touch point (like Android's pointer location option).
    Touch,
    /// Live values of the motion sensors.
    Sensors,
    /// The current location fix and where it came from.
    Location,
    /// What the camera source receives.
    Camera,
    /// The microphone level, and a test tone for the speaker.
    Recorder,
}

impl App {
    /// The apps on the launcher, in order.
    pub const ALL: &'static [App] =
        &[App::Settings, App::Notes, App::Touch, App::Sensors, App::Location, App::Camera, App::Recorder];

    /// The label under the icon.
    pub fn label(self) -> &'static str {
        match self {
            App::Settings => "Settings",
            App::Notes => "Notes",
            App::Touch => "Touch",
            App::Sensors => "Sensors",
            App::Location => "Location",
            App::Camera => "Camera",
            App::Recorder => "Recorder",
        }
    }

    /// The activity the launcher starts.
    pub fn activity(self) -> &'static str {
        match self {
            App::Settings => ".Settings",
            App::Notes | App::Touch | App::Sensors | App::Location | App::Camera | App::Recorder => ".MainActivity",
        }
    }

    /// The Android package name of the built-in app.
    pub fn package(self) -> &'static str {
        match self {
            App::Settings => "com.android.settings",
            App::Notes => "com.cloudphone.notes",
            App::Touch => "com.cloudphone.touchtest",
            App::Sensors => "com.cloudphone.sensors",
            App::Location => "com.cloudphone.location",
            App::Camera => "com.cloudphone.camera",
            App::Recorder => "com.cloudphone.recorder",
        }
    }

    pub(super) fn color(self) -> Rgb {
        match self {
            App::Settings => Rgb(0x45, 0x5a, 0x64),
            App::Notes => Rgb(0xf9, 0xa8, 0x25),
            App::Touch => Rgb(0x7e, 0x57, 0xc2),
            App::Sensors => Rgb(0x00, 0x89, 0x7b),
            App::Location => Rgb(0xd8, 0x43, 0x15),
            App::Camera => Rgb(0x37, 0x47, 0x4f),
            App::Recorder => Rgb(0xc6, 0x28, 0x28),
        }
    }

    fn glyph(self) -> &'static str {
        match self {
            App::Settings => "⚙",
            App::Notes => "✎",
            App::Touch => "☝",
            App::Sensors => "⟳",
            App::Location => "⌖",
            App::Camera => "◉",
            App::Recorder => "●",
        }
    }
}

/// What a launcher icon opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Launch {
    /// A built-in app.
    Builtin(App),
    /// An installed package.
    Installed(String),
}

/// A decoded launcher icon, already at the launcher's size.
#[derive(Clone, Debug)]
pub struct Icon {
    pixmap: tiny_skia::Pixmap,
}

impl Icon {
    /// Decodes a PNG and scales it to the launcher's icon size; `None` when it is no PNG.
    pub fn from_png(bytes: &[u8]) -> Option<Icon> {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().ok()?;
        let (w, h) = {
            let i = reader.info();
            (i.width, i.height)
        };
        if w == 0 || h == 0 || w > 4096 || h > 4096 {
            return None;
        }
        let mut buf = vec![0; reader.output_buffer_size()?];
        let frame = reader.next_frame(&mut buf).ok()?;
        let data = &buf[..frame.buffer_size()];
        let rgba: Vec<u8> = match frame.color_type {
            png::ColorType::Rgba => data.chunks_exact(4).flat_map(|p| premultiply(p[0], p[1], p[2], p[3])).collect(),
            png::ColorType::Rgb => data.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
            png::ColorType::GrayscaleAlpha => {
                data.chunks_exact(2).flat_map(|p| premultiply(p[0], p[0], p[0], p[1])).collect()
            }
            png::ColorType::Grayscale => data.iter().flat_map(|g| [*g, *g, *g, 255]).collect(),
            png::ColorType::Indexed => return None,
        };
        let source = tiny_skia::Pixmap::from_vec(rgba, tiny_skia::IntSize::from_wh(w, h)?)?;
        let size = (ICON_RADIUS * 2.0) as u32;
        let mut pixmap = tiny_skia::Pixmap::new(size, size)?;
        let transform = tiny_skia::Transform::from_scale(size as f32 / w as f32, size as f32 / h as f32);
        pixmap.draw_pixmap(
            0,
            0,
            source.as_ref(),
            &tiny_skia::PixmapPaint { quality: tiny_skia::FilterQuality::Bilinear, ..Default::default() },
            transform,
            None,
        );
        Some(Icon { pixmap })
    }
}

pub(super) fn premultiply(r: u8, g: u8, b: u8, a: u8) -> [u8; 4] {
    let m = |c: u8| ((c as u16 * a as u16 + 127) / 255) as u8;
    [m(r), m(g), m(b), a]
}

/// One icon on the launcher.
pub struct LauncherEntry<'a> {
    /// What it opens.
    pub launch: Launch,
    /// Its label.
    pub label: &'a str,
    /// Its picture, when the app has a bitmap icon.
    pub icon: Option<&'a Icon>,
}

/// What an installed app's screen shows.
pub struct InstalledView<'a> {
    /// Label.
    pub label: &'a str,
    /// Package.
    pub package: &'a str,
    /// Version name and code.
    pub version: String,
    /// The activity in front.
    pub activity: &'a str,
    /// The app's icon.
    pub icon: Option<&'a Icon>,
}

/// Everything the screen shows, borrowed from the phone.
pub struct View<'a> {
    pub width: u32,
    pub height: u32,
    pub screen: Screen,
    pub clock: &'a str,
    pub properties: &'a BTreeMap<String, String>,
    pub identity: &'a Identity,
    pub notes: &'a str,
    pub trail: &'a [(f32, f32)],
    pub pointers: Vec<(f32, f32)>,
    pub density: u32,
    pub launcher: Vec<LauncherEntry<'a>>,
    pub installed: Option<InstalledView<'a>>,
    pub recents: Vec<(Launch, &'a str)>,
    /// How far the screen's content is scrolled up.
    pub scroll: f32,
    pub volume_overlay: Option<u32>,
    pub hal: &'a super::hal::Hal,
    pub camera: &'a super::media::Camera,
    pub mic: &'a super::media::Microphone,
    pub now_ms: u64,
}

/// What a tap hits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An app icon.
    Open(Launch),
    /// A navigation bar button.
    Key(KeyCode),
    /// The Recorder's "Play tone" button.
    PlayTone,
}

/// A card on the recents screen: (x, y, width, height).
fn recent_card(index: usize, width: f32) -> (f32, f32, f32, f32) {
    (48.0, STATUS_BAR + 48.0 + index as f32 * 128.0, width - 96.0, 112.0)
}

/// The Recorder's "Play tone" button: (x, y, width, height).
fn tone_button(width: f32, height: f32) -> (f32, f32, f32, f32) {
    (width / 2.0 - 160.0, height - NAV_BAR - 180.0, 320.0, 96.0)
}

const STATUS_BAR: f32 = 56.0;
const NAV_BAR: f32 = 96.0;
const TITLE_BAR: f32 = 112.0;
/// Launcher columns: 4 upright, 7 on its side.
fn columns(width: f32, height: f32) -> usize {
    if width > height { 7 } else { 4 }
}
const ICON_RADIUS: f32 = 60.0;
const GRID_TOP: f32 = 180.0;
const ROW_HEIGHT: f32 = 220.0;

const NAV_KEYS: [KeyCode; 3] = [KeyCode::BACK, KeyCode::HOME, KeyCode::APP_SWITCH];

/// The centre of the launcher icon at `index` on a `width x height` screen.
pub fn icon_center(index: usize, width: f32, height: f32) -> (f32, f32) {
    let columns = columns(width, height);
    let cell = width / columns as f32;
    let col = index % columns;
    let row = index / columns;
    (cell * (col as f32 + 0.5), GRID_TOP + ROW_HEIGHT * row as f32 + ICON_RADIUS)
}

/// The centre of nav bar button `i` (back, home, recents).
fn nav_center(i: usize, width: f32, height: f32) -> (f32, f32) {
    (width * (0.25 + 0.25 * i as f32), height - NAV_BAR / 2.0)
}

/// What a tap at (x, y) hits on `screen`. `targets` are what the screen lists, in order: the
/// launcher's icons, or the recents screen's cards; `scroll` is how far the content moved up.
pub fn hit_test(
    screen: &Screen,
    targets: &[Launch],
    scroll: f32,
    width: f32,
    height: f32,
    x: f32,
    y: f32,
) -> Option<Target> {
    if y >= height - NAV_BAR {
        let i = ((x / width) * 4.0 - 1.0).round().clamp(0.0, 2.0) as usize;
        let (cx, _) = nav_center(i, width, height);
        return ((x - cx).abs() <= width / 8.0).then_some(Target::Key(NAV_KEYS[i]));
    }
    if *screen == Screen::Builtin(App::Recorder) {
        let (bx, by, bw, bh) = tone_button(width, height);
        return (x >= bx && x <= bx + bw && y >= by && y <= by + bh).then_some(Target::PlayTone);
    }
    if *screen == Screen::Recents {
        return targets
            .iter()
            .enumerate()
            .find_map(|(i, launch)| {
                let (cx, cy, cw, ch) = recent_card(i, width);
                (x >= cx && x <= cx + cw && y >= cy && y <= cy + ch).then(|| Target::Open(launch.clone()))
            })
            .or(Some(Target::Key(KeyCode::HOME)));
    }
    if *screen != Screen::Launcher {
        return None;
    }
    if y < STATUS_BAR {
        return None;
    }
    targets.iter().enumerate().find_map(|(i, launch)| {
        let (cx, cy) = icon_center(i, width, height);
        let cy = cy - scroll;
        let d = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
        (d <= ICON_RADIUS * 1.2).then(|| Target::Open(launch.clone()))
    })
}

const WHITE: Rgb = Rgb(255, 255, 255);
const TEXT: Rgb = Rgb(0x21, 0x21, 0x21);
const MUTED: Rgb = Rgb(0x75, 0x75, 0x75);

/// Draws the whole screen; returns tightly packed RGBA.
pub fn draw(view: &View) -> Vec<u8> {
    let (w, h) = (view.width as f32, view.height as f32);
    let background = match view.screen {
        Screen::Launcher => Rgb(0x0d, 0x47, 0xa1),
        Screen::Recents => Rgb(0x26, 0x32, 0x38),
        _ => Rgb(0xfa, 0xfa, 0xfa),
    };
    let mut c = Canvas::new(view.width, view.height, background);
    match &view.screen {
        Screen::Launcher => launcher(&mut c, &view.launcher, view.scroll),
        Screen::Builtin(App::Settings) => settings(&mut c, view),
        Screen::Builtin(App::Notes) => notes(&mut c, view),
        Screen::Builtin(App::Touch) => touch(&mut c, view),
        Screen::Builtin(App::Sensors) => sensors(&mut c, view),
        Screen::Builtin(App::Location) => location(&mut c, view),
        Screen::Builtin(App::Camera) => camera(&mut c, view),
        Screen::Builtin(App::Recorder) => recorder(&mut c, view),
        Screen::Installed(_) => {
            if let Some(app) = &view.installed {
                installed(&mut c, app);
            }
        }
        Screen::Recents => recents(&mut c, &view.recents),
    }
    if let Some(volume) = view.volume_overlay {
        volume_overlay(&mut c, volume);
    }
    // Status bar: clock on the left, battery on the right.
    c.rect(0.0, 0.0, w, STATUS_BAR, Rgb(0x00, 0x00, 0x00));
    c.text(view.clock, 24.0, 40.0, 28.0, Weight::Bold, WHITE);
    c.text("100%", w - 100.0, 40.0, 26.0, Weight::Regular, WHITE);
    // Navigation bar: back triangle, home circle, recents square.
    c.rect(0.0, h - NAV_BAR, w, NAV_BAR, Rgb(0x00, 0x00, 0x00));
    let (bx, by) = nav_center(0, w, h);
    c.polygon_outline(&[(bx + 14.0, by - 18.0), (bx + 14.0, by + 18.0), (bx - 18.0, by)], 4.0, WHITE);
    let (hx, hy) = nav_center(1, w, h);
    c.circle(hx, hy, 20.0, WHITE);
    c.circle(hx, hy, 15.0, Rgb(0, 0, 0));
    let (rx, ry) = nav_center(2, w, h);
    c.polygon_outline(
        &[(rx - 16.0, ry - 16.0), (rx + 16.0, ry - 16.0), (rx + 16.0, ry + 16.0), (rx - 16.0, ry + 16.0)],
        4.0,
        WHITE,
    );
    c.into_rgba()
}

/// A colour derived from a name, for apps without a bitmap icon.
fn color_of(name: &str) -> Rgb {
    const PALETTE: [Rgb; 6] = [
        Rgb(0xe5, 0x39, 0x35),
        Rgb(0x8e, 0x24, 0xaa),
        Rgb(0x00, 0x89, 0x7b),
        Rgb(0xf4, 0x51, 0x1e),
        Rgb(0x3f, 0x51, 0xb5),
        Rgb(0x43, 0xa0, 0x47),
    ];
    PALETTE[name.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize)) % PALETTE.len()]
}

fn draw_icon(c: &mut Canvas, cx: f32, cy: f32, icon: &Icon) {
    let paint = tiny_skia::Paint {
        shader: tiny_skia::Pattern::new(
            icon.pixmap.as_ref(),
            tiny_skia::SpreadMode::Pad,
            tiny_skia::FilterQuality::Bilinear,
            1.0,
            tiny_skia::Transform::from_translate(cx - ICON_RADIUS, cy - ICON_RADIUS),
        ),
        anti_alias: true,
        ..Default::default()
    };
    if let Some(path) = tiny_skia::PathBuilder::from_circle(cx, cy, ICON_RADIUS) {
        c.pixmap.fill_path(&path, &paint, tiny_skia::FillRule::Winding, tiny_skia::Transform::identity(), None);
    }
}

/// Shortens a label to fit under its icon.
fn fit(label: &str, size: f32, width: f32) -> String {
    if Canvas::text_width(label, size, Weight::Regular) <= width {
        return label.to_owned();
    }
    let mut out: String = label.chars().collect();
    while !out.is_empty() && Canvas::text_width(&format!("{out}…"), size, Weight::Regular) > width {
        out.pop();
    }
    format!("{out}…")
}

/// How far the launcher's icons reach below the top, for `count` icons.
pub fn launcher_content_height(count: usize, width: f32, height: f32) -> f32 {
    let rows = count.div_ceil(columns(width, height));
    GRID_TOP + rows as f32 * ROW_HEIGHT
}

/// How far the Notes text reaches below the top.
pub fn notes_content_height(text: &str, width: f32) -> f32 {
    STATUS_BAR + TITLE_BAR + 24.0 + 52.0 + Canvas::wrap(text, 30.0, width - 96.0).len() as f32 * 42.0
}

/// The height content may use: between the status bar and the nav bar.
pub fn viewport_bottom(height: f32) -> f32 {
    height - NAV_BAR
}

fn launcher(c: &mut Canvas, entries: &[LauncherEntry], scroll: f32) {
    let (w, h) = (c.width(), c.height());
    for (i, entry) in entries.iter().enumerate() {
        let (cx, cy) = icon_center(i, w, h);
        let cy = cy - scroll;
        if cy + ICON_RADIUS + 60.0 < STATUS_BAR || cy - ICON_RADIUS > h - NAV_BAR {
            continue;
        }
        match (&entry.launch, entry.icon) {
            (_, Some(icon)) => draw_icon(c, cx, cy, icon),
            (Launch::Builtin(app), None) => {
                c.circle(cx, cy, ICON_RADIUS, app.color());
                c.text_centered(app.glyph(), cx, cy + 22.0, 60.0, Weight::Regular, WHITE);
            }
            (Launch::Installed(package), None) => {
                c.circle(cx, cy, ICON_RADIUS, color_of(package));
                let initial: String = entry.label.chars().next().unwrap_or('?').to_uppercase().collect();
                c.text_centered(&initial, cx, cy + 22.0, 60.0, Weight::Bold, WHITE);
            }
        }
        let label = fit(entry.label, 28.0, w / columns(w, h) as f32 - 12.0);
        c.text_centered(&label, cx, cy + ICON_RADIUS + 44.0, 28.0, Weight::Regular, WHITE);
    }
}

fn installed(c: &mut Canvas, app: &InstalledView) {
    title_bar(c, app.label, color_of(app.package));
    let cx = c.width() / 2.0;
    let top = STATUS_BAR + TITLE_BAR + 80.0 + ICON_RADIUS;
    match app.icon {
        Some(icon) => draw_icon(c, cx, top, icon),
        None => c.circle(cx, top, ICON_RADIUS, color_of(app.package)),
    }
    let mut y = top + ICON_RADIUS + 70.0;
    c.text_centered(app.label, cx, y, 40.0, Weight::Bold, TEXT);
    for line in [app.package.to_owned(), app.version.clone(), app.activity.to_owned()] {
        y += 48.0;
        c.text_centered(&line, cx, y, 26.0, Weight::Regular, MUTED);
    }
}

fn title_bar(c: &mut Canvas, title: &str, color: Rgb) {
    let w = c.width();
    c.rect(0.0, STATUS_BAR, w, TITLE_BAR, color);
    c.text(title, 32.0, STATUS_BAR + 72.0, 40.0, Weight::Bold, WHITE);
}

/// Places rows of a fixed height below `top`, in as many columns as the screen needs (one
/// upright, several on its side).
struct Flow {
    top: f32,
    row_height: f32,
    per_column: usize,
    column_width: f32,
}

impl Flow {
    fn new(c: &Canvas, top: f32, row_height: f32, rows: usize) -> Flow {
        let per_column = (((c.height() - NAV_BAR - top) / row_height).floor() as usize).max(1);
        let columns = rows.div_ceil(per_column).max(1);
        Flow { top, row_height, per_column, column_width: c.width() / columns as f32 }
    }

    /// The left edge and top of row `i`.
    fn at(&self, i: usize) -> (f32, f32) {
        let (column, row) = (i / self.per_column, i % self.per_column);
        (column as f32 * self.column_width + 32.0, self.top + row as f32 * self.row_height)
    }

    /// The width a row may use.
    fn width(&self) -> f32 {
        self.column_width - 64.0
    }
}

fn settings(c: &mut Canvas, view: &View) {
    title_bar(c, "About phone", App::Settings.color());
    let prop = |k: &str| view.properties.get(k).cloned().unwrap_or_else(|| "unknown".into());
    let modem = &view.identity.modem;
    let rows = [
        ("Device name", prop("ro.product.marketname")),
        ("Model", format!("{} {}", prop("ro.product.manufacturer"), prop("ro.product.model"))),
        ("Android version", format!("{} (API {})", prop("ro.build.version.release"), prop("ro.build.version.sdk"))),
        ("Build number", prop("ro.build.display.id")),
        ("Serial number", prop("ro.serialno")),
        ("IMEI", modem.imei.clone()),
        ("Phone number", format!("{} ({})", modem.phone_number, modem.operator)),
        ("Language", prop("persist.sys.locale")),
        ("Time zone", prop("persist.sys.timezone")),
        ("Screen", format!("{}x{} @ {} dpi", view.width, view.height, view.density)),
    ];
    let flow = Flow::new(c, STATUS_BAR + TITLE_BAR + 12.0, 96.0, rows.len());
    for (i, (label, value)) in rows.iter().enumerate() {
        let (x, y) = flow.at(i);
        c.text(label, x, y + 32.0, 27.0, Weight::Bold, TEXT);
        c.text(value, x, y + 68.0, 26.0, Weight::Regular, MUTED);
        c.rect(x, y + 88.0, flow.width(), 1.0, Rgb(0xe0, 0xe0, 0xe0));
    }
}

fn notes(c: &mut Canvas, view: &View) {
    title_bar(c, "Notes", App::Notes.color());
    let (w, h) = (c.width(), c.height());
    let top = STATUS_BAR + TITLE_BAR + 24.0;
    c.round_rect(24.0, top, w - 48.0, h - top - NAV_BAR - 24.0, 12.0, WHITE);
    if view.notes.is_empty() {
        c.text("Type or paste text here", 48.0, top + 52.0, 30.0, Weight::Regular, Rgb(0xbd, 0xbd, 0xbd));
    }
    let lines = Canvas::wrap(view.notes, 30.0, w - 96.0);
    let mut baseline = top + 52.0 - view.scroll;
    let last = lines.len().saturating_sub(1);
    for (i, line) in lines.iter().enumerate() {
        // Lines scrolled out of the text area are not drawn over the title or nav bar.
        if baseline < top + 30.0 || baseline > h - NAV_BAR - 24.0 {
            baseline += 42.0;
            continue;
        }
        c.text(line, 48.0, baseline, 30.0, Weight::Regular, TEXT);
        if i == last {
            // The caret after the last character.
            let x = 48.0 + Canvas::text_width(line, 30.0, Weight::Regular) + 2.0;
            c.rect(x, baseline - 28.0, 3.0, 36.0, Rgb(0x19, 0x76, 0xd2));
        }
        baseline += 42.0;
    }
}

fn sensors(c: &mut Canvas, view: &View) {
    use cloudphone_protocol::control::SensorKind;
    title_bar(c, "Sensors", App::Sensors.color());
    let flow = Flow::new(c, STATUS_BAR + TITLE_BAR + 24.0, 150.0, SensorKind::ALL.len());
    for (i, kind) in SensorKind::ALL.iter().enumerate() {
        let (left, top) = flow.at(i);
        let name = match kind {
            SensorKind::Accelerometer => "Accelerometer",
            SensorKind::Magnetometer => "Magnetometer",
            SensorKind::Gyroscope => "Gyroscope",
            SensorKind::Gravity => "Gravity",
        };
        c.text(&format!("{name} ({})", kind.unit()), left, top + 36.0, 30.0, Weight::Bold, TEXT);
        match view.hal.sensors.get(kind) {
            Some(s) => {
                let [x, y, z] = s.values;
                c.text(&format!("x {x:>8.3}   y {y:>8.3}   z {z:>8.3}"), left, top + 78.0, 28.0, Weight::Regular, TEXT);
                let rate = format!("{} readings, {:.0} Hz", s.count, s.rate_hz);
                c.text(&rate, left, top + 114.0, 24.0, Weight::Regular, MUTED);
            }
            None => c.text("No readings yet", left, top + 78.0, 28.0, Weight::Regular, MUTED),
        }
        c.rect(left, top + 138.0, flow.width(), 1.0, Rgb(0xe0, 0xe0, 0xe0));
    }
}

fn location(c: &mut Canvas, view: &View) {
    title_bar(c, "Location", App::Location.color());
    let top = STATUS_BAR + TITLE_BAR + 24.0;
    let Some(current) = &view.hal.location else {
        c.text("No location fix yet", 32.0, top + 40.0, 30.0, Weight::Regular, MUTED);
        return;
    };
    let f = &current.fix;
    let opt = |v: Option<f32>, unit: &str| v.map(|v| format!("{v:.1} {unit}")).unwrap_or_else(|| "unknown".into());
    let age_s = view.now_ms.saturating_sub(current.time_ms) / 1000;
    let source = match current.source {
        super::hal::LocationSource::Viewer => "the viewer's device",
        super::hal::LocationSource::Api => "the API",
        super::hal::LocationSource::Route => "a GPX route",
    };
    let rows = [
        ("Latitude", format!("{:.6}°", f.latitude)),
        ("Longitude", format!("{:.6}°", f.longitude)),
        ("Altitude", f.altitude.map(|a| format!("{a:.1} m")).unwrap_or_else(|| "unknown".into())),
        ("Accuracy", opt(f.accuracy, "m")),
        ("Speed", opt(f.speed, "m/s")),
        ("Bearing", opt(f.bearing, "°")),
        ("Source", format!("gps, from {source}")),
        ("Age", format!("{age_s} s")),
    ];
    let flow = Flow::new(c, top, 96.0, rows.len());
    for (i, (label, value)) in rows.iter().enumerate() {
        let (x, y) = flow.at(i);
        c.text(label, x, y + 32.0, 27.0, Weight::Bold, TEXT);
        c.text(value, x, y + 68.0, 26.0, Weight::Regular, MUTED);
    }
}

fn recents(c: &mut Canvas, apps: &[(Launch, &str)]) {
    let w = c.width();
    if apps.is_empty() {
        c.text_centered("No recent items", w / 2.0, c.height() / 2.0, 30.0, Weight::Regular, WHITE);
        return;
    }
    for (i, (launch, label)) in apps.iter().enumerate() {
        let (x, y, cw, ch) = recent_card(i, w);
        let color = match launch {
            Launch::Builtin(app) => app.color(),
            Launch::Installed(p) => color_of(p),
        };
        c.round_rect(x, y, cw, ch, 16.0, WHITE);
        c.circle(x + 60.0, y + ch / 2.0, 32.0, color);
        c.text(label, x + 120.0, y + ch / 2.0 + 12.0, 32.0, Weight::Bold, TEXT);
    }
}

fn volume_overlay(c: &mut Canvas, volume: u32) {
    let (w, h) = (c.width(), c.height());
    let (x, top, bw, bh) = (w - 96.0, h / 2.0 - 200.0, 56.0, 400.0);
    c.round_rect(x - 8.0, top - 8.0, bw + 16.0, bh + 64.0, 28.0, Rgb(0x30, 0x30, 0x30));
    c.round_rect(x, top, bw, bh, 24.0, Rgb(0x60, 0x60, 0x60));
    let fill = bh * volume as f32 / super::MAX_VOLUME as f32;
    if fill > 0.0 {
        c.round_rect(x, top + bh - fill, bw, fill, 24.0, Rgb(0x90, 0xca, 0xf9));
    }
    c.text_centered(&volume.to_string(), x + bw / 2.0, top + bh + 44.0, 26.0, Weight::Bold, WHITE);
}

fn camera(c: &mut Canvas, view: &View) {
    use super::media::CameraSource;
    title_bar(c, "Camera", App::Camera.color());
    let (w, h) = (c.width(), c.height());
    let top = STATUS_BAR + TITLE_BAR;
    let bottom = h - NAV_BAR - 80.0;
    c.rect(0.0, top, w, bottom - top, Rgb(0x10, 0x10, 0x10));
    let Some(frame) = &view.camera.frame else {
        c.text_centered("No camera frames yet", w / 2.0, (top + bottom) / 2.0, 30.0, Weight::Regular, WHITE);
        return;
    };
    let rgba: Vec<u8> =
        frame.rgba.chunks_exact(4).flat_map(|p| super::ui::premultiply(p[0], p[1], p[2], p[3])).collect();
    if let Some(size) = tiny_skia::IntSize::from_wh(frame.width, frame.height)
        && let Some(source) = tiny_skia::Pixmap::from_vec(rgba, size)
    {
        let scale = (w / frame.width as f32).min((bottom - top) / frame.height as f32);
        let (dw, dh) = (frame.width as f32 * scale, frame.height as f32 * scale);
        let transform = tiny_skia::Transform::from_scale(scale, scale)
            .post_translate((w - dw) / 2.0, top + (bottom - top - dh) / 2.0);
        let paint = tiny_skia::PixmapPaint { quality: tiny_skia::FilterQuality::Bilinear, ..Default::default() };
        c.pixmap.draw_pixmap(0, 0, source.as_ref(), &paint, transform, None);
    }
    let source = match view.camera.source {
        Some(CameraSource::Viewer) => "the viewer's camera",
        Some(CameraSource::Picture) => "an injected picture",
        Some(CameraSource::Video) => "an injected video",
        None => "unknown",
    };
    let info = format!("{}x{} from {source}, {} frames", frame.width, frame.height, view.camera.frames);
    c.text_centered(&info, w / 2.0, bottom + 50.0, 26.0, Weight::Regular, TEXT);
}

fn recorder(c: &mut Canvas, view: &View) {
    use super::media::MicSource;
    title_bar(c, "Recorder", App::Recorder.color());
    let (w, h) = (c.width(), c.height());
    let top = STATUS_BAR + TITLE_BAR + 60.0;
    let mic = view.mic;
    c.text("Microphone level", 32.0, top, 30.0, Weight::Bold, TEXT);
    c.round_rect(32.0, top + 24.0, w - 64.0, 48.0, 8.0, Rgb(0xe0, 0xe0, 0xe0));
    if mic.samples > 0 {
        let fill = ((mic.level_db + 60.0) / 60.0).clamp(0.0, 1.0) * (w - 64.0);
        if fill > 0.5 {
            c.round_rect(32.0, top + 24.0, fill, 48.0, 8.0, Rgb(0x43, 0xa0, 0x47));
        }
        let source = match mic.source {
            Some(MicSource::Viewer) => "the viewer's microphone",
            Some(MicSource::File) => "an injected audio file",
            None => "unknown",
        };
        c.text(&format!("{:.1} dBFS", mic.level_db), 32.0, top + 120.0, 28.0, Weight::Regular, TEXT);
        c.text(
            &format!("{} samples at {} Hz from {source}", mic.samples, mic.sample_rate),
            32.0,
            top + 160.0,
            24.0,
            Weight::Regular,
            MUTED,
        );
    } else {
        c.text("Microphone idle", 32.0, top + 120.0, 28.0, Weight::Regular, MUTED);
    }
    let (bx, by, bw, bh) = tone_button(w, h);
    c.round_rect(bx, by, bw, bh, 16.0, App::Recorder.color());
    c.text_centered("Play tone", bx + bw / 2.0, by + 60.0, 32.0, Weight::Bold, WHITE);
}

fn touch(c: &mut Canvas, view: &View) {
    title_bar(c, "Touch test", App::Touch.color());
    let status = match view.pointers.as_slice() {
        [] => "Touch the screen".to_string(),
        [(x, y)] => format!("1 pointer at {x:.0}, {y:.0}"),
        many => format!("{} pointers", many.len()),
    };
    c.text(&status, 32.0, STATUS_BAR + TITLE_BAR + 56.0, 30.0, Weight::Regular, TEXT);
    for (x, y) in view.trail {
        c.circle(*x, *y, 6.0, Rgb(0x9e, 0x9e, 0xff));
    }
    for (x, y) in &view.pointers {
        c.circle(*x, *y, 40.0, Rgb(0x7e, 0x57, 0xc2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_icon_hits_its_own_app() {
        let launcher: Vec<Launch> =
            App::ALL.iter().map(|a| Launch::Builtin(*a)).chain([Launch::Installed("com.x.y".into())]).collect();
        for (i, launch) in launcher.iter().enumerate() {
            let (x, y) = icon_center(i, 720.0, 1280.0);
            assert_eq!(
                hit_test(&Screen::Launcher, &launcher, 0.0, 720.0, 1280.0, x, y),
                Some(Target::Open(launch.clone()))
            );
            assert_eq!(
                hit_test(&Screen::Builtin(App::Notes), &launcher, 0.0, 720.0, 1280.0, x, y),
                None,
                "icons are hidden behind apps"
            );
        }
        assert_eq!(hit_test(&Screen::Launcher, &launcher, 0.0, 720.0, 1280.0, 700.0, 900.0), None);
    }

    #[test]
    fn scrolled_icons_are_hit_where_they_are_drawn() {
        let launcher: Vec<Launch> = (0..30).map(|i| Launch::Installed(format!("com.app.n{i}"))).collect();
        let (x, y) = icon_center(8, 720.0, 1280.0);
        let scrolled = hit_test(&Screen::Launcher, &launcher, ROW_HEIGHT, 720.0, 1280.0, x, y - ROW_HEIGHT);
        assert_eq!(scrolled, Some(Target::Open(Launch::Installed("com.app.n8".into()))));
        assert_eq!(
            hit_test(&Screen::Launcher, &launcher, ROW_HEIGHT, 720.0, 1280.0, 90.0, 20.0),
            None,
            "not under the status bar"
        );
        assert!(launcher_content_height(30, 720.0, 1280.0) > 1280.0, "30 icons overflow an upright screen");
    }

    #[test]
    fn nav_bar_targets() {
        let y = 1280.0 - 40.0;
        assert_eq!(hit_test(&Screen::Launcher, &[], 0.0, 720.0, 1280.0, 180.0, y), Some(Target::Key(KeyCode::BACK)));
        assert_eq!(hit_test(&Screen::Launcher, &[], 0.0, 720.0, 1280.0, 360.0, y), Some(Target::Key(KeyCode::HOME)));
        assert_eq!(
            hit_test(&Screen::Launcher, &[], 0.0, 720.0, 1280.0, 540.0, y),
            Some(Target::Key(KeyCode::APP_SWITCH))
        );
        assert_eq!(hit_test(&Screen::Launcher, &[], 0.0, 720.0, 1280.0, 10.0, y), None);
    }
}
