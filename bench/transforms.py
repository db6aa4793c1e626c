"""The image-transformation suite of the PDQ robustness benchmark.

Each *family* simulates one way people re-share a photo (recompression, crops, padding, meme
frames, captions, stickers, mirror, rotations, phone screenshots, ...). ``make_copy(image,
family, seed)`` returns one transformed copy, encoded as a platform would receive it (JPEG
quality 90 unless the family says otherwise), deterministically: the same image, family and
seed always give the same bytes. ``FAMILIES`` lists the families in order, each with the
recall the benchmark requires of it (``goal``) or ``None`` for families only reported.

    .venv/bin/python bench/transforms.py

writes one copy per family of the first 3 photos-dev photos to bench/out/transforms-preview/
so a human can look at them.
"""

from __future__ import annotations

import colorsys
import io
import math
import os
import random
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
MIN_SIDE = 16
JPEG_QUALITY = 90

_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
_RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Family:
    """A family of transformations; ``goal`` is the required recall, or None (report only)."""

    name: str
    description: str
    goal: float | None


@dataclass(frozen=True)
class Copy:
    """One transformed, encoded copy of an image."""

    family: str
    name: str  # human-readable parameters, e.g. "crop20 corner-tl", "jpeg q=23"
    data: bytes  # encoded file bytes
    suffix: str  # ".jpg" or ".png"


class _Result(NamedTuple):
    """A transformation's output: the image, its parameter name, and how to encode it."""

    image: Image.Image
    name: str
    quality: int | None = JPEG_QUALITY  # JPEG quality, or None for PNG


_Transform = Callable[[Image.Image, random.Random], _Result]


# --------------------------------------------------------------------------- helpers


def _font(size: int, *, bold: bool = True) -> _Font:
    """DejaVu Sans (Bold) at `size` px, or Pillow's built-in font if DejaVu is not installed."""
    size = max(1, size)
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(str(FONT_DIR / name), size)
    except OSError:
        return ImageFont.load_default(size=size)


def _np_rng(rng: random.Random) -> np.random.Generator:
    return np.random.default_rng(rng.getrandbits(64))


def _random_colour(rng: random.Random) -> _RGB:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def _saturated_colour(rng: random.Random) -> _RGB:
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.75, 1.0), rng.uniform(0.8, 1.0))
    return (round(r * 255), round(g * 255), round(b * 255))


def _from_array(array: npt.NDArray[np.floating] | npt.NDArray[np.integer]) -> Image.Image:
    return Image.fromarray(np.clip(np.rint(array), 0, 255).astype(np.uint8), "RGB")


def _encode(result: _Result) -> tuple[bytes, str]:
    """Encode as a platform would receive it: JPEG (baseline, no metadata) or PNG."""
    image = result.image.convert("RGB")
    image.info = {}
    buffer = io.BytesIO()
    if result.quality is None:
        # Lossless: the level changes only speed and size, never the pixels.
        image.save(buffer, "PNG", compress_level=3)
        return buffer.getvalue(), ".png"
    image.save(buffer, "JPEG", quality=result.quality, optimize=False)
    return buffer.getvalue(), ".jpg"


# --------------------------------------------------------------------------- simple families


def _jpeg(image: Image.Image, rng: random.Random) -> _Result:
    quality = rng.randint(10, 90)
    return _Result(image, f"jpeg q={quality}", quality)


def _downscale(image: Image.Image, rng: random.Random) -> _Result:
    factor = rng.uniform(0.20, 0.50)
    w, h = image.size
    size = (max(MIN_SIDE, round(w * factor)), max(MIN_SIDE, round(h * factor)))
    return _Result(image.resize(size, Image.Resampling.LANCZOS), f"downscale {factor:.0%}")


def _greyscale(image: Image.Image, rng: random.Random) -> _Result:
    return _Result(image.convert("L").convert("RGB"), "greyscale")


def _colour(image: Image.Image, rng: random.Random) -> _Result:
    brightness = rng.uniform(0.7, 1.3)
    contrast = rng.uniform(0.7, 1.3)
    saturation = rng.uniform(0.5, 1.5)
    out = ImageEnhance.Brightness(image).enhance(brightness)
    out = ImageEnhance.Contrast(out).enhance(contrast)
    out = ImageEnhance.Color(out).enhance(saturation)
    name = f"colour b={brightness:.2f} c={contrast:.2f} s={saturation:.2f}"
    return _Result(out, name)


def _blur(image: Image.Image, rng: random.Random) -> _Result:
    fraction = rng.uniform(0.003, 0.010)
    radius = fraction * min(image.size)
    out = image.filter(ImageFilter.GaussianBlur(radius))
    return _Result(out, f"blur r={radius:.1f}px ({fraction:.2%} of short side)")


def _noise(image: Image.Image, rng: random.Random) -> _Result:
    sigma = rng.uniform(4.0, 12.0)
    pixels = np.asarray(image, dtype=np.float32)
    noise = _np_rng(rng).normal(0.0, sigma, pixels.shape).astype(np.float32)
    return _Result(_from_array(pixels + noise), f"noise sigma={sigma:.1f}")


def _mirror(image: Image.Image, rng: random.Random) -> _Result:
    return _Result(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "mirror")


_ROT90 = {
    90: Image.Transpose.ROTATE_90,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_270,
}


def _rot90(image: Image.Image, rng: random.Random) -> _Result:
    degrees = rng.choice(sorted(_ROT90))
    return _Result(image.transpose(_ROT90[degrees]), f"rot90 {degrees}deg ccw")


def _rotate(degrees: int) -> _Transform:
    def rotate(image: Image.Image, rng: random.Random) -> _Result:
        angle = degrees * rng.choice((-1, 1))
        fill_name, fill = rng.choice((("black", (0, 0, 0)), ("white", (255, 255, 255))))
        out = image.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=fill)
        return _Result(out, f"rot{degrees} {angle:+d}deg fill {fill_name}")

    return rotate


# --------------------------------------------------------------------------- crops


def crop_box(
    size: tuple[int, int], fraction: float, rng: random.Random
) -> tuple[tuple[int, int, int, int], str]:
    """A crop box removing `fraction` of the area of an image of `size`, and the anchor name.

    Anchors: "centre" (both sides scaled by sqrt(1-p), centred); "edge-<side>" (the whole
    fraction removed from that side); "corner-<tl|tr|bl|br>" (that corner kept, both sides
    scaled by sqrt(1-p)); "asym" (both sides scaled by sqrt(1-p), the removed width split
    10-90 % between left and right, and the removed height likewise between top and bottom).
    """
    w, h = size
    kind = rng.choice(("centre", "edge", "corner", "asym"))
    if kind == "edge":
        side = rng.choice(("top", "bottom", "left", "right"))
        if side in ("top", "bottom"):
            nh = max(MIN_SIDE, round(h * (1 - fraction)))
            top = h - nh if side == "top" else 0
            return (0, top, w, top + nh), f"edge-{side}"
        nw = max(MIN_SIDE, round(w * (1 - fraction)))
        left = w - nw if side == "left" else 0
        return (left, 0, left + nw, h), f"edge-{side}"
    scale = math.sqrt(1 - fraction)
    nw, nh = max(MIN_SIDE, round(w * scale)), max(MIN_SIDE, round(h * scale))
    if kind == "centre":
        left, top = (w - nw) // 2, (h - nh) // 2
        anchor = "centre"
    elif kind == "corner":
        corner = rng.choice(("tl", "tr", "bl", "br"))
        top = 0 if corner[0] == "t" else h - nh
        left = 0 if corner[1] == "l" else w - nw
        anchor = f"corner-{corner}"
    else:
        split_x, split_y = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9)
        left, top = round((w - nw) * split_x), round((h - nh) * split_y)
        anchor = f"asym l={split_x:.0%} t={split_y:.0%}"
    return (left, top, left + nw, top + nh), anchor


def _crop(percent: int) -> _Transform:
    def crop(image: Image.Image, rng: random.Random) -> _Result:
        box, anchor = crop_box(image.size, percent / 100, rng)
        return _Result(image.crop(box), f"crop{percent} {anchor}")

    return crop


# --------------------------------------------------------------------------- padding


def _letterboxes(w: int, h: int) -> list[tuple[str, tuple[int, int]]]:
    """The 16:9 and 9:16 letterbox canvases of a w x h image that add 10-50 % of area."""
    options = []
    for label, (aw, ah) in (("16:9", (16, 9)), ("9:16", (9, 16))):
        canvas = (round(h * aw / ah), h) if w * ah < h * aw else (w, round(w * ah / aw))
        added = 1 - (w * h) / (canvas[0] * canvas[1])
        if 0.10 <= added <= 0.50:
            options.append((label, canvas))
    return options


def _blur_fill(image: Image.Image, canvas: tuple[int, int]) -> Image.Image:
    """The social-media "blur fill": the photo covering the canvas, blurred and darkened."""
    background = ImageOps.fit(image, canvas, Image.Resampling.LANCZOS)
    background = background.filter(ImageFilter.GaussianBlur(0.05 * max(canvas)))
    return ImageEnhance.Brightness(background).enhance(0.6)


def _paper_fill(canvas: tuple[int, int], rng: random.Random) -> Image.Image:
    """A low-contrast paper texture: a mid-tone colour plus smooth and fine noise."""
    w, h = canvas
    grey = rng.randint(110, 200)
    base = np.array([grey + rng.randint(-20, 20) for _ in range(3)], dtype=np.float32)
    generator = _np_rng(rng)
    cell = rng.randint(24, 64)
    coarse = generator.normal(0.0, 7.0, (h // cell + 2, w // cell + 2)).astype(np.float32)
    smooth = np.asarray(
        Image.fromarray(coarse, "F").resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32
    )
    grain = generator.normal(0.0, 3.0, (h, w, 1)).astype(np.float32)
    return _from_array(base + smooth[:, :, None] + grain)


def _stripe_fill(canvas: tuple[int, int], rng: random.Random) -> tuple[Image.Image, str]:
    """Diagonal stripes of two colours."""
    w, h = canvas
    width = rng.randint(8, 20)
    direction = rng.choice((-1, 1))
    colours = np.array([_random_colour(rng), _random_colour(rng)], dtype=np.uint8)
    ys, xs = np.indices((h, w))
    stripe = ((xs + direction * ys) // width) % 2
    return Image.fromarray(colours[stripe], "RGB"), f"stripes {width}px"


def _pad(image: Image.Image, rng: random.Random) -> _Result:
    w, h = image.size
    uniform = rng.random() < 0.5
    if uniform:
        letterboxes = _letterboxes(w, h)
        if letterboxes and rng.random() < 1 / 3:
            label, canvas = rng.choice(letterboxes)
            out = Image.new("RGB", canvas, (0, 0, 0))
            out.paste(image, ((canvas[0] - w) // 2, (canvas[1] - h) // 2))
            added = 1 - (w * h) / (canvas[0] * canvas[1])
            return _Result(out, f"pad {added:.0%} letterbox {label} black")
    target = rng.uniform(0.10, 0.50)
    growth = 1 / (1 - target)  # canvas area / content area
    width_share = rng.uniform(0.2, 0.8)  # of the growth (in log) going to the width
    canvas = (math.ceil(w * growth**width_share), math.ceil(h * growth ** (1 - width_share)))
    if rng.random() < 0.5:
        position = ((canvas[0] - w) // 2, (canvas[1] - h) // 2)
        placement = "centred"
    else:
        position = (rng.randint(0, canvas[0] - w), rng.randint(0, canvas[1] - h))
        placement = "off-centre"
    if uniform:
        colour = _random_colour(rng)
        out = Image.new("RGB", canvas, colour)
        fill = "uniform #{:02x}{:02x}{:02x}".format(*colour)
    else:
        texture = rng.choice(("blur", "paper", "stripes"))
        if texture == "blur":
            out, fill = _blur_fill(image, canvas), "textured blur-fill"
        elif texture == "paper":
            out, fill = _paper_fill(canvas, rng), "textured paper"
        else:
            out, stripes = _stripe_fill(canvas, rng)
            fill = f"textured {stripes}"
    out.paste(image, position)
    added = 1 - (w * h) / (canvas[0] * canvas[1])
    return _Result(out, f"pad {added:.0%} {fill} {placement}")


# --------------------------------------------------------------------------- text overlays

_MEME_TEXT = (
    "WHEN YOU",
    "SEE IT",
    "NOBODY:",
    "ME AT 3AM",
    "LOL",
    "POV:",
    "MY FACE WHEN",
    "WAIT FOR IT",
    "IT'S FINE",
    "BRUH",
    "SEND HELP",
    "TFW",
)

_CAPTIONS = (
    "guess who",
    "happy birthday!!",
    "look at this lol",
    "throwback",
    "omg",
    "no way",
    "so cute",
    "send this to everyone",
    "remember this?",
    "best night ever",
    "can't believe it",
    "you're welcome",
)


def _fitted_font(
    lines: Sequence[str], size: int, max_width: float, *, bold: bool = True
) -> tuple[_Font, int]:
    """The largest font <= `size` px in which every line is at most `max_width` px wide."""
    font = _font(size, bold=bold)
    while size > 6 and max(font.getlength(line) for line in lines) > max_width:
        size = max(6, int(size * 0.9))
        font = _font(size, bold=bold)
    return font, size


def _meme(image: Image.Image, rng: random.Random) -> _Result:
    w, h = image.size
    top = round(h * rng.uniform(0.10, 0.25))
    bottom = 0 if rng.random() < 1 / 3 else round(h * rng.uniform(0.10, 0.25))
    out = Image.new("RGB", (w, h + top + bottom), (255, 255, 255))
    out.paste(image, (0, top))
    draw = ImageDraw.Draw(out)
    parts = []
    for label, y0, bar in (("top", 0, top), ("bottom", top + h, bottom)):
        if bar == 0:
            continue
        text = rng.choice(_MEME_TEXT)
        font, _ = _fitted_font([text], round(0.6 * bar), 0.92 * w)
        draw.text((w / 2, y0 + bar / 2), text, fill=(0, 0, 0), font=font, anchor="mm")
        parts.append(f'{label} {bar / h:.0%} "{text}"')
    return _Result(out, "meme " + " / ".join(parts))


def _caption(image: Image.Image, rng: random.Random) -> _Result:
    out = image.copy()
    w, h = out.size
    fraction = rng.uniform(0.06, 0.10)
    lines = rng.sample(_CAPTIONS, rng.choice((1, 2)))
    region = rng.choice(("top", "bottom"))
    font, size = _fitted_font(lines, max(8, round(h * fraction)), 0.92 * w)
    stroke = max(1, round(size / 12))
    line_height = round(size * 1.25)
    block = len(lines) * line_height
    zone = 0.25 * h
    low, high = (0.0, zone - block) if region == "top" else (h - zone, h - block)
    y0 = rng.uniform(low, max(low, high))
    draw = ImageDraw.Draw(out)
    for index, line in enumerate(lines):
        draw.text(
            (w / 2, y0 + index * line_height),
            line,
            fill=(255, 255, 255),
            font=font,
            anchor="ma",
            stroke_width=stroke,
            stroke_fill=(0, 0, 0),
        )
    return _Result(out, f"caption {len(lines)} line(s) {fraction:.0%} {region}")


# --------------------------------------------------------------------------- stickers


def _normalised(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """`points` scaled (keeping aspect) and centred to fit the unit square."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    span = max(max(xs) - min(xs), max(ys) - min(ys))
    dx = (1 - (max(xs) - min(xs)) / span) / 2
    dy = (1 - (max(ys) - min(ys)) / span) / 2
    return [((x - min(xs)) / span + dx, (y - min(ys)) / span + dy) for x, y in points]


def _polygon_area(points: Sequence[tuple[float, float]]) -> float:
    total = 0.0
    for (x0, y0), (x1, y1) in zip(points, [*points[1:], points[0]], strict=True):
        total += x0 * y1 - x1 * y0
    return abs(total) / 2


def _heart() -> list[tuple[float, float]]:
    points = []
    for i in range(120):
        t = 2 * math.pi * i / 120
        x = 16 * math.sin(t) ** 3
        y = -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t))
        points.append((x, y))
    return _normalised(points)


def _star() -> list[tuple[float, float]]:
    points = []
    for i in range(10):
        radius = 1.0 if i % 2 == 0 else 0.45
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((radius * math.cos(angle), radius * math.sin(angle)))
    return _normalised(points)


_HEART = _heart()
_STAR = _star()
_LABEL_RADIUS = 0.2  # corner radius of the rounded rectangle, as a fraction of its short side
_STICKERS = ("emoji", "label", "heart", "star")


def _sticker_box(kind: str, area: float, rng: random.Random) -> tuple[int, int]:
    """The bounding box of a sticker of `kind` whose opaque area is `area` px."""
    if kind == "label":
        aspect = rng.uniform(1.0, 1.8)
        fill = 1 - (4 - math.pi) * _LABEL_RADIUS**2 / aspect
        short = math.sqrt(area / fill / aspect)
        long = short * aspect
        return (round(long), round(short)) if rng.random() < 0.5 else (round(short), round(long))
    polygon = {"heart": _HEART, "star": _STAR}.get(kind)
    fill = math.pi / 4 if polygon is None else _polygon_area(polygon)
    side = round(math.sqrt(area / fill))
    return side, side


def _draw_sticker(kind: str, box: tuple[int, int], rng: random.Random) -> Image.Image:
    """An RGBA sticker of `kind` filling `box`, drawn at 4x and reduced (anti-aliased)."""
    w, h = box[0] * 4, box[1] * 4
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    if kind == "emoji":
        dark = (70, 45, 20, 255)
        draw.ellipse(
            (0, 0, w - 1, h - 1),
            fill=(255, 204, 51, 255),
            outline=(220, 150, 30, 255),
            width=w // 30,
        )
        draw.ellipse((0.30 * w, 0.26 * h, 0.41 * w, 0.45 * h), fill=dark)
        draw.ellipse((0.59 * w, 0.26 * h, 0.70 * w, 0.45 * h), fill=dark)
        draw.arc((0.24 * w, 0.28 * h, 0.76 * w, 0.78 * h), 25, 155, fill=dark, width=w // 18)
    elif kind == "label":
        colour = (*_saturated_colour(rng), 255)
        radius = _LABEL_RADIUS * min(w, h)
        draw.rounded_rectangle((0, 0, w - 1, h - 1), radius, fill=colour)
        inset = min(w, h) // 10
        draw.rounded_rectangle(
            (inset, inset, w - 1 - inset, h - 1 - inset),
            radius - inset,
            outline=(255, 255, 255, 255),
            width=max(1, min(w, h) // 30),
        )
    else:
        polygon = _HEART if kind == "heart" else _STAR
        colour = (230, 30, 70, 255) if kind == "heart" else (*_saturated_colour(rng), 255)
        draw.polygon([(x * (w - 1), y * (h - 1)) for x, y in polygon], fill=colour)
    return layer.resize(box, Image.Resampling.LANCZOS)


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _stickers(low: float, high: float) -> _Transform:
    def stickers(image: Image.Image, rng: random.Random) -> _Result:
        out = image.copy()
        w, h = out.size
        total = rng.uniform(low, high)
        count = rng.randint(1, 3)
        weights = [rng.uniform(0.5, 1.5) for _ in range(count)]
        placed: list[tuple[int, int, int, int]] = []
        kinds = []
        for weight in weights:
            kind = rng.choice(_STICKERS)
            bw, bh = _sticker_box(kind, total * w * h * weight / sum(weights), rng)
            bw, bh = max(4, min(bw, w)), max(4, min(bh, h))
            for _ in range(100):  # avoid overlapping stickers when we can
                x, y = rng.randint(0, w - bw), rng.randint(0, h - bh)
                if not any(_overlaps((x, y, x + bw, y + bh), other) for other in placed):
                    break
            placed.append((x, y, x + bw, y + bh))
            sticker = _draw_sticker(kind, (bw, bh), rng)
            out.paste(sticker, (x, y), sticker)
            kinds.append(kind)
        return _Result(out, f"sticker {count} x {total:.1%} total ({', '.join(kinds)})")

    return stickers


# --------------------------------------------------------------------------- screenshot

_SCREEN_WIDTH = 1080
_APP_TITLES = ("Messages", "Photos", "alex_92", "Chats", "jess.k", "Gallery", "Story")
_USERS = ("alex_92", "jess.k", "mike.o", "sam_t", "lena", "dj_rob", "kat.w")
_COMMENT_WORDS = (
    "omg this is so funny",
    "who is that",
    "send it to the group chat",
    "no way haha",
    "wait what",
    "look at her face",
    "did you see this",
    "lmao",
    "he posted it again",
    "this is everywhere now",
)


def _status_bar(draw: ImageDraw.ImageDraw, height: int, fg: _RGB) -> None:
    draw.text((56, height / 2), "9:41", fill=fg, font=_font(round(height * 0.45)), anchor="lm")
    cy = height / 2
    # battery: outline, charge, nub
    right = _SCREEN_WIDTH - 48
    bw, bh = round(height * 0.7), round(height * 0.34)
    draw.rectangle((right - bw, cy - bh / 2, right, cy + bh / 2), outline=fg, width=3)
    draw.rectangle((right - bw + 6, cy - bh / 2 + 6, right - bw * 0.3, cy + bh / 2 - 6), fill=fg)
    draw.rectangle((right + 2, cy - bh / 5, right + 6, cy + bh / 5), fill=fg)
    # wifi, as a small block, and four signal bars
    x = right - bw - 24
    draw.rectangle((x - bh, cy - bh / 2, x, cy + bh / 2), fill=fg)
    x -= bh + 24
    for i in range(4):
        bar = height * (0.12 + 0.08 * i)
        left = x - (3 - i) * 10 - 7
        draw.rectangle((left, cy + bh / 2 - bar, left + 7, cy + bh / 2), fill=fg)


def _nav_icons(draw: ImageDraw.ImageDraw, top: int, height: int, fg: _RGB, accent: _RGB) -> None:
    cy = top + height * 0.4
    s = 26
    for i in range(5):
        cx = _SCREEN_WIDTH * (i + 0.5) / 5
        if i == 0:  # home
            draw.polygon(
                [(cx - s, cy), (cx, cy - s), (cx + s, cy), (cx + s, cy + s), (cx - s, cy + s)],
                outline=fg,
                width=5,
            )
        elif i == 1:  # search
            draw.ellipse((cx - s, cy - s, cx + s * 0.6, cy + s * 0.6), outline=fg, width=5)
            draw.line((cx + s * 0.4, cy + s * 0.4, cx + s, cy + s), fill=fg, width=6)
        elif i == 2:  # new post
            draw.rounded_rectangle((cx - s, cy - s, cx + s, cy + s), 10, outline=fg, width=5)
            draw.line((cx - s / 2, cy, cx + s / 2, cy), fill=fg, width=5)
            draw.line((cx, cy - s / 2, cx, cy + s / 2), fill=fg, width=5)
        elif i == 3:  # activity
            draw.rectangle((cx - s, cy - s * 0.7, cx + s, cy + s * 0.7), outline=fg, width=5)
        else:  # profile
            draw.ellipse((cx - s, cy - s, cx + s, cy + s), fill=accent)


def _screenshot(image: Image.Image, rng: random.Random) -> _Result:
    width, height = _SCREEN_WIDTH, rng.randint(1920, 2400)
    dark = rng.random() < 0.5
    bg: _RGB = (0, 0, 0) if dark else (255, 255, 255)
    bar: _RGB = (22, 22, 22) if dark else (248, 248, 248)
    fg: _RGB = (245, 245, 245) if dark else (18, 18, 18)
    muted: _RGB = (150, 150, 150) if dark else (110, 110, 110)
    rule: _RGB = (50, 50, 50) if dark else (220, 220, 220)
    accent = _saturated_colour(rng)
    out = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(out)

    status = rng.randint(48, 72)
    draw.rectangle((0, 0, width, status), fill=bar)
    _status_bar(draw, status, fg)

    header = rng.randint(120, 160)
    cy = status + header / 2
    draw.rectangle((0, status, width, status + header), fill=bar)
    draw.line([(64, cy - 24), (40, cy), (64, cy + 24)], fill=fg, width=6)
    radius = header * 0.28
    draw.ellipse((110, cy - radius, 110 + 2 * radius, cy + radius), fill=accent)
    title = rng.choice(_APP_TITLES)
    title_font = _font(round(header * 0.27))
    draw.text((110 + 2 * radius + 28, cy), title, fill=fg, font=title_font, anchor="lm")
    for i in range(3):
        draw.ellipse((width - 64, cy - 26 + 20 * i, width - 54, cy - 16 + 20 * i), fill=fg)
    draw.line((0, status + header - 1, width, status + header - 1), fill=rule, width=2)

    nav = rng.randint(130, 170)
    nav_top = height - nav
    draw.rectangle((0, nav_top, width, height), fill=bar)
    draw.line((0, nav_top, width, nav_top), fill=rule, width=2)
    _nav_icons(draw, nav_top, nav, fg, accent)
    draw.rounded_rectangle((width / 2 - 140, height - 26, width / 2 + 140, height - 16), 5, fill=fg)

    # The photo at the screen width; a photo too tall for the screen is fitted to the space
    # left (with room for the comments) and centred, as image viewers do.
    w, h = image.size
    top = status + header
    room = nav_top - top - 240
    size = (width, round(h * width / w))
    if size[1] > room:
        size = (round(w * room / h), room)
    out.paste(image.resize(size, Image.Resampling.LANCZOS), ((width - size[0]) // 2, top))

    y = top + size[1] + 28
    for i in range(3):  # like / comment / share
        x = 48 + i * 90
        draw.ellipse((x, y, x + 52, y + 52), outline=fg, width=5)
    y += 84
    bold, regular = _font(38), _font(36, bold=False)
    lines: list[tuple[str, _Font, _RGB]] = [
        (f"{rng.randint(12, 9999):,} likes", bold, fg),
        (f"{rng.choice(_USERS)}  {rng.choice(_COMMENT_WORDS)}", regular, fg),
        (f"View all {rng.randint(3, 400)} comments", regular, muted),
    ]
    for comment in rng.sample(_COMMENT_WORDS, len(_COMMENT_WORDS)):
        lines.append((f"{rng.choice(_USERS)}  {comment}", regular, fg))
    for text, font, colour in lines:
        if y + 48 > nav_top - 12:
            break
        draw.text((48, y), text, fill=colour, font=font)
        y += 56
    theme = "dark" if dark else "light"
    return _Result(out, f"screenshot {theme} {width}x{height} photo {size[0]}x{size[1]}", None)


# --------------------------------------------------------------------------- combo

_COMBO_POOL = (
    "jpeg",
    "downscale",
    "colour",
    "mirror",
    "crop10",
    "crop20",
    "pad",
    "meme",
    "caption",
    "sticker",
    "screenshot",
    "rot3",
)


def _decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as opened:
        return opened.convert("RGB")


def _combo(image: Image.Image, rng: random.Random) -> _Result:
    first, second = rng.sample(_COMBO_POOL, 2)
    result = _REGISTRY[first](image, rng)
    data, _ = _encode(result)
    final = _REGISTRY[second](_decode(data), rng)
    return _Result(final.image, f"{result.name} + {final.name}", final.quality)


# --------------------------------------------------------------------------- registry

_SPECS: tuple[tuple[Family, _Transform], ...] = (
    (Family("jpeg", "re-encode at JPEG quality 10-90", 0.99), _jpeg),
    (Family("downscale", "resize to 20-50 % of each side (LANCZOS)", 0.99), _downscale),
    (Family("greyscale", "convert to greyscale (saved as RGB)", 0.99), _greyscale),
    (
        Family("colour", "brightness and contrast x0.7-1.3, saturation x0.5-1.5", 0.99),
        _colour,
    ),
    (Family("blur", "Gaussian blur, radius 0.3-1 % of the short side", 0.99), _blur),
    (Family("noise", "additive Gaussian noise, sigma 4-12", 0.99), _noise),
    (Family("mirror", "horizontal mirror", 0.99), _mirror),
    (Family("rot90", "rotate by 90, 180 or 270 degrees", 0.99), _rot90),
    (Family("crop5", "crop 5 % of the area (centre, edge, corner or asymmetric)", 0.95), _crop(5)),
    (Family("crop10", "crop 10 % of the area", 0.95), _crop(10)),
    (Family("crop20", "crop 20 % of the area", 0.95), _crop(20)),
    (Family("crop30", "crop 30 % of the area", 0.80), _crop(30)),
    (
        Family("pad", "borders adding 10-50 % of area: uniform, letterbox or textured", 0.95),
        _pad,
    ),
    (Family("meme", "white bars above (and below) with black caption text", 0.95), _meme),
    (Family("caption", "white outlined text over the top or bottom quarter", 0.95), _caption),
    (
        Family("sticker", "1-3 opaque stickers covering 2-10 % of the area", 0.95),
        _stickers(0.02, 0.10),
    ),
    (
        Family("sticker15", "1-3 opaque stickers covering 10-15 % of the area", None),
        _stickers(0.10, 0.15),
    ),
    (Family("screenshot", "phone screenshot of the photo in an app (PNG)", 0.95), _screenshot),
    (Family("rot3", "rotate by +-3 degrees, expanded, black or white corners", 0.80), _rotate(3)),
    (Family("rot5", "rotate by +-5 degrees, expanded, black or white corners", 0.80), _rotate(5)),
    (Family("combo", "two different families in sequence", None), _combo),
)

FAMILIES: dict[str, Family] = {family.name: family for family, _ in _SPECS}
_REGISTRY: dict[str, _Transform] = {family.name: transform for family, transform in _SPECS}


def make_copy(image: Image.Image, family: str, seed: int) -> Copy:
    """One transformed copy of `image` for `family`.

    Parameters are drawn from ``random.Random`` seeded with `seed` (expected >= 0) and the
    CRC-32 of the family name, so the same (image, family, seed) always gives the same bytes.
    """
    transform = _REGISTRY.get(family)
    if transform is None:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    if min(image.size) < MIN_SIDE:
        raise ValueError(f"image {image.size} is smaller than {MIN_SIDE} px on a side")
    rng = random.Random((seed << 32) + zlib.crc32(family.encode()))
    result = transform(image if image.mode == "RGB" else image.convert("RGB"), rng)
    data, suffix = _encode(result)
    return Copy(family=family, name=result.name, data=data, suffix=suffix)


# --------------------------------------------------------------------------- preview


def preview(paths: list[Path], out_dir: Path) -> None:
    """Write one copy per family of each photo (seed = its index) to `out_dir`, for a human.

    Files are named ``<photo>-<family><suffix>``; ``index.tsv`` lists each with its parameters.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed, path in enumerate(paths):
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
        for family in FAMILIES:
            copy = make_copy(image, family, seed)
            target = out_dir / f"{path.stem}-{family}{copy.suffix}"
            target.write_bytes(copy.data)
            rows.append(f"{target.name}\t{copy.name}")
    (out_dir / "index.tsv").write_text("\n".join(rows) + "\n")
    print("\n".join(rows))
    print(f"wrote {len(rows)} copies to {out_dir}")


if __name__ == "__main__":
    _shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    _photos = Path(os.environ.get("TAKEDOWN_SHARED_DATA", _shared)) / "photos-dev"
    preview(
        sorted(_photos.glob("*.jpg"))[:3],
        Path(__file__).resolve().parent / "out" / "transforms-preview",
    )
