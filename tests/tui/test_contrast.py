"""Every cell of text on screen is legible in Textual's dark and light themes (WCAG 2.x contrast).

The test drives the app into the states that matter (the start with its banner and status line,
lexical results, reranked results with score bars and move marks, the results focused, the help
screen, side by side, the histogram with and without scores, and a theme chosen while results
are shown),
renders the screen the way Textual writes it to the terminal (the compositor's segments, after
Textual's own line filters have turned ANSI colours into the theme's truecolour and "dim" into a
colour blended towards the background), and computes the WCAG 2.x contrast ratio between each
character's foreground and background colour. Textual's own widgets (header, footer, inputs, the
select, the Markdown help) are checked as the app styles them.

Thresholds and exemptions:

* text must reach 4.5:1 (WCAG 1.4.3, normal text). Bold text gets no discount: a terminal cell is
  not "large text" in WCAG's sense (18pt, or 14pt bold).
* whitespace is not text and is skipped;
* graphics are skipped, not text: block elements (U+2580–U+259F: the score bars, the sparkline,
  the histogram's bars, half-block scrollbar ends) and box drawing (U+2500–U+257F: borders and rules).
  The score bar's "·" track is text-like and is checked like any character.
* behind a modal screen (help, histogram) only the modal's box is checked: the screen beneath is
  deliberately faded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from rich.cells import cell_len
from rich.color import Color as RichColor
from rich.style import Style
from textual import constants
from textual.app import App
from textual.color import Color
from textual.geometry import Region
from textual.pilot import Pilot
from textual.screen import ModalScreen
from textual.widgets import Input

from local_rerank.search import FolderIndex
from local_rerank.tokenizer import Tokenizer
from tests.search.fakes import word_count_reranker
from tests.tui.driving import SIZE, ask, settle, tui_app

THEMES = ["textual-dark", "textual-light"]
TEXT = 4.5


def relative_luminance(color: tuple[int, int, int]) -> float:
    """WCAG 2.x relative luminance of an sRGB colour."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(value) for value in color)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: tuple[int, int, int], second: tuple[int, int, int]) -> float:
    """WCAG 2.x contrast ratio, 1 (none) to 21 (black on white)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def is_graphic(character: str) -> bool:
    """Block elements and box drawing: bars, sparklines, scrollbars, borders."""
    return "\u2500" <= character <= "\u259f"


@dataclass(frozen=True)
class Cell:
    """A character at (x, y), its colours and their contrast."""

    x: int
    y: int
    text: str
    foreground: tuple[int, int, int]
    background: tuple[int, int, int]
    ratio: float


def _rgb(color: RichColor | None, default: Color) -> tuple[int, int, int]:
    if color is None or color.is_default:
        return default.rgb
    triplet = color.get_truecolor()  # Textual's filters leave truecolour (system colours: rich's default palette)
    return triplet.red, triplet.green, triplet.blue


def _resolve(style: Style | None, app: App) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(foreground, background) of a segment's style as the terminal shows it."""
    style = style or Style()
    theme = app.current_theme
    background = _rgb(style.bgcolor, Color.parse(theme.background or "black"))
    foreground = _rgb(style.color, Color.parse(theme.foreground or "white"))
    if style.reverse:
        foreground, background = background, foreground
    if style.dim:  # where Textual's filter left "dim" to the terminal: blend as the filter does
        foreground = Color(*background).blend(Color(*foreground), constants.DIM_FACTOR).rgb
    return foreground, background


def screen_cells(app: App) -> list[Cell]:
    """Every character of text on screen as rendered (graphics and whitespace left out)."""
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens,
                                                 simplify=True)
    region: Region = app.screen.size.region
    if isinstance(app.screen, ModalScreen):  # the faded screen beneath a modal is not checked
        region = Region.from_union([child.region for child in app.screen.children])
    cells: list[Cell] = []
    for y, line in enumerate(update.strips):
        x = 0
        for strip in line:
            for text, style, control in strip:
                if control:
                    continue
                foreground, background = _resolve(style, app)
                ratio = contrast_ratio(foreground, background)
                for character in text:
                    if not (character.isspace() or is_graphic(character)) and region.contains(x, y):
                        cells.append(Cell(x, y, character, foreground, background, ratio))
                    x += cell_len(character)
    return cells


def too_faint(cells: list[Cell]) -> list[str]:
    """The runs of text below the threshold: neighbouring characters in the same colours are one run."""
    runs: list[list[Cell]] = []
    for cell in (cell for cell in cells if cell.ratio < TEXT):
        last = runs[-1][-1] if runs else None
        if last and (last.y, last.foreground, last.background) == (cell.y, cell.foreground, cell.background) \
                and cell.x - last.x <= 2:
            runs[-1].append(cell)
        else:
            runs.append([cell])
    return [f"({run[0].x},{run[0].y}) {''.join(c.text for c in run)!r}: {Color(*run[0].foreground).hex} on "
            f"{Color(*run[0].background).hex} = {run[0].ratio:.2f}:1" for run in runs]


def test_the_contrast_ratio_matches_wcag() -> None:
    assert contrast_ratio((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast_ratio((119, 119, 119), (255, 255, 255)) == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio((255, 0, 0), (255, 0, 0)) == pytest.approx(1.0)


async def _start(pilot: Pilot) -> None:
    await settle(pilot)


async def _lexical(pilot: Pilot) -> None:
    await ask(pilot, "harbour")


async def _help(pilot: Pilot) -> None:
    await ask(pilot, "harbour")
    await pilot.press("f1")
    await pilot.pause()


async def _side_by_side(pilot: Pilot) -> None:
    await ask(pilot, "harbour")
    await pilot.press("f3")
    await pilot.pause()


async def _histogram(pilot: Pilot) -> None:
    await ask(pilot, "harbour")
    await pilot.press("f4")
    await pilot.pause()


async def _results_focused(pilot: Pilot) -> None:
    await ask(pilot, "harbour")
    await pilot.press("tab", "tab", "tab", "down")
    await pilot.pause()


async def _theme_switched(pilot: Pilot) -> None:
    """Results shown in the other theme, then this one chosen (as from the command palette)."""
    theme = pilot.app.theme
    pilot.app.theme = next(other for other in THEMES if other != theme)
    await ask(pilot, "harbour")
    pilot.app.theme = theme
    await settle(pilot)


STATES: dict[str, tuple[bool, Callable]] = {  # name: (with a model?, how to get there)
    "start, banner and status": (False, _start),
    "lexical results": (False, _lexical),
    "reranked results": (True, _lexical),
    "results focused": (True, _results_focused),
    "help (F1)": (True, _help),
    "side by side (F3)": (True, _side_by_side),
    "histogram (F4)": (True, _histogram),
    "histogram, nothing scored": (False, _histogram),
    "theme switched with results shown": (True, _theme_switched),
}


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("state", list(STATES))
async def test_text_is_legible(state: str, theme: str, notes: FolderIndex, tokenizer: Tokenizer) -> None:
    with_model, arrive = STATES[state]
    app = tui_app(notes, word_count_reranker(tokenizer, "crane") if with_model else None)
    async with app.run_test(size=SIZE) as pilot:
        app.theme = theme
        app.query_one("#query", Input).cursor_blink = False
        await pilot.pause()
        await arrive(pilot)
        await pilot.pause()
        cells = screen_cells(app)
        assert len(cells) > 40, "the screen shows text"
        faint = too_faint(cells)
        if faint:
            pytest.fail(f"{state}, {theme}: text below {TEXT}:1\n" + "\n".join(faint), pytrace=False)
