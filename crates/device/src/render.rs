//! A small drawing toolkit over tiny-skia: filled shapes and anti-aliased text in the bundled
//! DejaVu Sans font (rasterised with ab_glyph).

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use tiny_skia::{Color, FillRule, Paint, PathBuilder, Pixmap, Rect, Transform};

static REGULAR: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf");
/// Android's own fallback font: Chinese, Japanese, Korean and more that DejaVu lacks.
static FALLBACK: &[u8] = include_bytes!("../assets/fonts/DroidSansFallbackFull.ttf");

/// Which face of the font to draw with.
#[derive(Clone, Copy, Debug)]
pub enum Weight {
    Regular,
    Bold,
}

fn font(weight: Weight) -> &'static FontRef<'static> {
    static R: OnceLock<FontRef<'static>> = OnceLock::new();
    static B: OnceLock<FontRef<'static>> = OnceLock::new();
    // The fonts are compiled in; failing to parse them is a build defect, caught by every test.
    match weight {
        Weight::Regular => R.get_or_init(|| FontRef::try_from_slice(REGULAR).expect("bundled font parses")),
        Weight::Bold => B.get_or_init(|| FontRef::try_from_slice(BOLD).expect("bundled font parses")),
    }
}

fn fallback() -> &'static FontRef<'static> {
    static F: OnceLock<FontRef<'static>> = OnceLock::new();
    F.get_or_init(|| FontRef::try_from_slice(FALLBACK).expect("bundled font parses"))
}

/// The font that has a glyph for `ch`: the chosen face, else the fallback (which draws a box
/// for what neither has, as Android does).
fn font_for(ch: char, weight: Weight) -> &'static FontRef<'static> {
    let primary = font(weight);
    if primary.glyph_id(ch).0 != 0 || ch.is_control() { primary } else { fallback() }
}

/// An RGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    fn paint(self) -> Paint<'static> {
        let mut p = Paint::default();
        p.set_color(Color::from_rgba8(self.0, self.1, self.2, 255));
        p.anti_alias = true;
        p
    }
}

/// A canvas the size of the screen.
pub struct Canvas {
    pub pixmap: Pixmap,
}

impl Canvas {
    /// A canvas of the given size, filled with `background`.
    pub fn new(width: u32, height: u32, background: Rgb) -> Canvas {
        let mut pixmap = Pixmap::new(width.max(1), height.max(1)).expect("non-zero canvas size");
        pixmap.fill(Color::from_rgba8(background.0, background.1, background.2, 255));
        Canvas { pixmap }
    }

    pub fn width(&self) -> f32 {
        self.pixmap.width() as f32
    }

    pub fn height(&self) -> f32 {
        self.pixmap.height() as f32
    }

    /// Fills an axis-aligned rectangle.
    pub fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
        if let Some(r) = Rect::from_xywh(x, y, w, h) {
            self.pixmap.fill_rect(r, &color.paint(), Transform::identity(), None);
        }
    }

    /// Fills a rectangle with rounded corners of radius `r`.
    pub fn round_rect(&mut self, x: f32, y: f32, w: f32, h: f32, r: f32, color: Rgb) {
        let r = r.min(w / 2.0).min(h / 2.0);
        let mut pb = PathBuilder::new();
        pb.move_to(x + r, y);
        pb.line_to(x + w - r, y);
        pb.quad_to(x + w, y, x + w, y + r);
        pb.line_to(x + w, y + h - r);
        pb.quad_to(x + w, y + h, x + w - r, y + h);
        pb.line_to(x + r, y + h);
        pb.quad_to(x, y + h, x, y + h - r);
        pb.line_to(x, y + r);
        pb.quad_to(x, y, x + r, y);
        pb.close();
        if let Some(path) = pb.finish() {
            self.pixmap.fill_path(&path, &color.paint(), FillRule::Winding, Transform::identity(), None);
        }
    }

    /// Fills a circle.
    pub fn circle(&mut self, cx: f32, cy: f32, radius: f32, color: Rgb) {
        if let Some(path) = PathBuilder::from_circle(cx, cy, radius) {
            self.pixmap.fill_path(&path, &color.paint(), FillRule::Winding, Transform::identity(), None);
        }
    }

    /// Strokes a closed polygon outline.
    pub fn polygon_outline(&mut self, points: &[(f32, f32)], width: f32, color: Rgb) {
        let mut pb = PathBuilder::new();
        for (i, (x, y)) in points.iter().enumerate() {
            if i == 0 { pb.move_to(*x, *y) } else { pb.line_to(*x, *y) }
        }
        pb.close();
        if let Some(path) = pb.finish() {
            let stroke = tiny_skia::Stroke { width, ..Default::default() };
            self.pixmap.stroke_path(&path, &color.paint(), &stroke, Transform::identity(), None);
        }
    }

    /// The advance width of `text` at `size` pixels.
    pub fn text_width(text: &str, size: f32, weight: Weight) -> f32 {
        let mut width = 0.0;
        let mut prev: Option<(ab_glyph::GlyphId, *const FontRef<'static>)> = None;
        for ch in text.chars() {
            let f = font_for(ch, weight);
            let scaled = f.as_scaled(PxScale::from(size));
            let id = scaled.glyph_id(ch);
            // Kerning applies only between glyphs of the same font.
            if let Some((p, pf)) = prev
                && std::ptr::eq(pf, f)
            {
                width += scaled.kern(p, id);
            }
            width += scaled.h_advance(id);
            prev = Some((id, f as *const _));
        }
        width
    }

    /// Draws one line of text with its baseline at `baseline`, starting at `x`.
    pub fn text(&mut self, text: &str, x: f32, baseline: f32, size: f32, weight: Weight, color: Rgb) {
        let (w, h) = (self.pixmap.width() as i32, self.pixmap.height() as i32);
        let data = self.pixmap.data_mut();
        let mut caret = x;
        let mut prev: Option<(ab_glyph::GlyphId, *const FontRef<'static>)> = None;
        for ch in text.chars() {
            let f = font_for(ch, weight);
            let scaled = f.as_scaled(PxScale::from(size));
            let id = scaled.glyph_id(ch);
            if let Some((p, pf)) = prev
                && std::ptr::eq(pf, f)
            {
                caret += scaled.kern(p, id);
            }
            let glyph = id.with_scale_and_position(PxScale::from(size), ab_glyph::point(caret, baseline));
            caret += scaled.h_advance(id);
            prev = Some((id, f as *const _));
            let Some(outlined) = scaled.outline_glyph(glyph) else { continue };
            let bounds = outlined.px_bounds();
            outlined.draw(|gx, gy, coverage| {
                let px = bounds.min.x as i32 + gx as i32;
                let py = bounds.min.y as i32 + gy as i32;
                if px < 0 || py < 0 || px >= w || py >= h {
                    return;
                }
                let i = ((py * w + px) * 4) as usize;
                let c = coverage.clamp(0.0, 1.0);
                for (k, src) in [color.0, color.1, color.2].into_iter().enumerate() {
                    let dst = data[i + k] as f32;
                    data[i + k] = (src as f32 * c + dst * (1.0 - c)).round() as u8;
                }
            });
        }
    }

    /// Draws text horizontally centred on `cx`.
    pub fn text_centered(&mut self, text: &str, cx: f32, baseline: f32, size: f32, weight: Weight, color: Rgb) {
        let w = Canvas::text_width(text, size, weight);
        self.text(text, cx - w / 2.0, baseline, size, weight, color);
    }

    /// Splits `text` into lines no wider than `max_width` (on spaces where possible, else
    /// anywhere), keeping explicit newlines.
    pub fn wrap(text: &str, size: f32, max_width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            for ch in paragraph.chars() {
                line.push(ch);
                if Canvas::text_width(&line, size, Weight::Regular) > max_width && line.chars().count() > 1 {
                    let last = line.pop().expect("pushed above");
                    let (keep, carry) = match line.rfind(' ') {
                        Some(pos) if pos > 0 => (line[..pos].to_string(), line[pos + 1..].to_string()),
                        _ => (line.clone(), String::new()),
                    };
                    lines.push(keep);
                    line = carry;
                    line.push(last);
                }
            }
            lines.push(line);
        }
        lines
    }

    /// The canvas as tightly packed RGBA (every pixel is opaque, so premultiplied equals plain).
    pub fn into_rgba(self) -> Vec<u8> {
        self.pixmap.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cjk_falls_back_and_draws() {
        assert!(std::ptr::eq(font_for('a', Weight::Regular), font(Weight::Regular)));
        assert!(std::ptr::eq(font_for('世', Weight::Regular), fallback()));
        // Chinese and Japanese; Korean needs a font of its own (not bundled yet).
        for ch in ['世', 'あ', 'ア'] {
            assert_ne!(fallback().glyph_id(ch).0, 0, "{ch}");
        }
        let mut canvas = Canvas::new(200, 60, Rgb(255, 255, 255));
        canvas.text("世界", 10.0, 45.0, 40.0, Weight::Regular, Rgb(0, 0, 0));
        let dark = canvas.into_rgba().chunks_exact(4).filter(|p| p[0] < 128).count();
        assert!(dark > 200, "the glyphs are drawn: {dark} dark pixels");
        assert!(Canvas::text_width("世界", 40.0, Weight::Regular) > 60.0);
    }
}
