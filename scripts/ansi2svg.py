#!/usr/bin/env python3
"""Converts a terminal capture with ANSI colours (tmux capture-pane -e -p) to
an SVG image: one <text> run per styled span on a monospace grid. No
dependencies beyond the Python standard library.

usage: ansi2svg.py INPUT.ans OUTPUT.svg [--cols N] [--rows N] [--title T]
"""
import argparse
import html
import re
import unicodedata

BASE16 = [
    "#1d1f21", "#cc6666", "#b5bd68", "#f0c674", "#81a2be", "#b294bb", "#8abeb7", "#c5c8c6",
    "#666666", "#d54e53", "#b9ca4a", "#e7c547", "#7aa6da", "#c397d8", "#70c0b1", "#eaeaea",
]
FG, BG = "#d0d0d0", "#1d1f21"


def xterm256(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return "#%02x%02x%02x" % (v, v, v)


class Style:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None
        self.bg = None
        self.bold = False
        self.dim = False
        self.reverse = False
        self.underline = False
        self.strike = False

    def key(self):
        return (self.fg, self.bg, self.bold, self.dim, self.reverse, self.underline, self.strike)

    def apply(self, params):
        ps = [int(p) if p else 0 for p in params.split(";")] if params else [0]
        i = 0
        while i < len(ps):
            p = ps[i]
            if p == 0:
                self.reset()
            elif p == 1:
                self.bold = True
            elif p == 2:
                self.dim = True
            elif p == 4:
                self.underline = True
            elif p == 7:
                self.reverse = True
            elif p == 9:
                self.strike = True
            elif p == 22:
                self.bold = self.dim = False
            elif p == 24:
                self.underline = False
            elif p == 27:
                self.reverse = False
            elif p == 29:
                self.strike = False
            elif 30 <= p <= 37:
                self.fg = BASE16[p - 30]
            elif 90 <= p <= 97:
                self.fg = BASE16[p - 90 + 8]
            elif 40 <= p <= 47:
                self.bg = BASE16[p - 40]
            elif 100 <= p <= 107:
                self.bg = BASE16[p - 100 + 8]
            elif p == 39:
                self.fg = None
            elif p == 49:
                self.bg = None
            elif p in (38, 48) and i + 1 < len(ps):
                if ps[i + 1] == 5 and i + 2 < len(ps):
                    c = xterm256(ps[i + 2])
                    i += 2
                elif ps[i + 1] == 2 and i + 4 < len(ps):
                    c = "#%02x%02x%02x" % tuple(ps[i + 2:i + 5])
                    i += 4
                else:
                    c = None
                if p == 38:
                    self.fg = c
                else:
                    self.bg = c
                i += 1
            i += 1


def width(ch):
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def parse(text):
    """Returns rows of (col, text, style-key) runs."""
    rows = []
    st = Style()
    for line in text.split("\n"):
        runs = []
        col = 0
        cur = ""
        cur_key = st.key()
        cur_col = 0
        pos = 0
        for m in re.finditer(r"\x1b\[([0-9;]*)m|\x1b\][^\x07]*\x07|\x1b[()][0-9A-B]", line + "\x1b[m" * 0):
            chunk = line[pos:m.start()]
            for ch in chunk:
                if st.key() != cur_key:
                    if cur:
                        runs.append((cur_col, cur, cur_key))
                    cur, cur_key, cur_col = "", st.key(), col
                cur += ch
                col += width(ch)
            if m.group(0).startswith("\x1b[") and m.group(0).endswith("m"):
                st.apply(m.group(1))
            pos = m.end()
        for ch in line[pos:]:
            if st.key() != cur_key:
                if cur:
                    runs.append((cur_col, cur, cur_key))
                cur, cur_key, cur_col = "", st.key(), col
            cur += ch
            col += width(ch)
        if cur:
            runs.append((cur_col, cur, cur_key))
        rows.append(runs)
    while rows and not rows[-1]:
        rows.pop()
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--cols", type=int, default=120)
    ap.add_argument("--title", default="rpkv")
    a = ap.parse_args()
    with open(a.input, encoding="utf-8", errors="replace") as f:
        rows = parse(f.read())
    cw, ch = 8.4, 17
    pad = 12
    bar = 26
    w = int(a.cols * cw + 2 * pad)
    h = int(len(rows) * ch + 2 * pad + bar)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">',
        f'<rect width="{w}" height="{h}" rx="8" fill="{BG}"/>',
        '<circle cx="18" cy="13" r="5" fill="#ff5f56"/><circle cx="36" cy="13" r="5" fill="#ffbd2e"/>'
        '<circle cx="54" cy="13" r="5" fill="#27c93f"/>',
        f'<text x="{w / 2}" y="17" fill="#888" font-family="sans-serif" font-size="12" text-anchor="middle">{html.escape(a.title)}</text>',
        '<g font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14" xml:space="preserve">',
    ]
    for r, runs in enumerate(rows):
        y = pad + bar + r * ch
        for col, text, (fg, bg, bold, dim, rev, ul, strike) in runs:
            fgc, bgc = fg or FG, bg
            if rev:
                fgc, bgc = (bg or BG), (fg or FG)
            n = sum(width(c) for c in text)
            x = pad + col * cw
            if bgc:
                out.append(f'<rect x="{x:.1f}" y="{y}" width="{n * cw:.1f}" height="{ch}" fill="{bgc}"/>')
            if text.strip() == "":
                continue
            attrs = f'fill="{fgc}"'
            if bold:
                attrs += ' font-weight="bold"'
            if dim:
                attrs += ' opacity="0.6"'
            deco = []
            if ul:
                deco.append("underline")
            if strike:
                deco.append("line-through")
            if deco:
                attrs += f' text-decoration="{" ".join(deco)}"'
            out.append(
                f'<text x="{x:.1f}" y="{y + ch - 4}" textLength="{n * cw:.1f}" lengthAdjust="spacingAndGlyphs" {attrs}>{html.escape(text)}</text>'
            )
    out.append("</g></svg>")
    with open(a.output, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
