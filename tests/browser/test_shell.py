"""The frame every page shares, in a real browser: dark mode, the Ctrl+K search palette, keyboard
shortcuts and their help, dialogs (Escape, focus, height), the time zone chooser, the header at 1024 px."""

from __future__ import annotations

import re

from playwright.sync_api import expect

BODY_BG = "getComputedStyle(document.body).backgroundColor"


def test_theme_switch_dark_light_and_system_is_remembered(page):
    page.emulate_media(color_scheme="light")
    page.goto("/dags")
    theme = page.get_by_label("Colour theme")
    expect(theme).to_have_value("system")
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    light = page.evaluate(BODY_BG)
    theme.select_option("dark")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    dark = page.evaluate(BODY_BG)
    assert dark != light
    # Remembered: the next page starts dark (set in <head>, before the first paint).
    page.goto("/runs")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert page.evaluate(BODY_BG) == dark
    expect(page.get_by_label("Colour theme")).to_have_value("dark")
    # "System" follows the operating system's preference, and its changes.
    page.get_by_label("Colour theme").select_option("system")
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    page.emulate_media(color_scheme="dark")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert page.evaluate(BODY_BG) == dark
    page.get_by_label("Colour theme").select_option("light")
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    assert page.evaluate(BODY_BG) == light
    assert page.console_errors == []


def test_ctrl_k_opens_the_palette_and_enter_opens_the_result(page):
    page.goto("/dags")
    expect(page.locator("#dag-rows tr[data-dag-id]").first).to_be_visible()
    page.keyboard.press("Control+k")
    palette = page.get_by_role("dialog", name="Search")
    expect(palette).to_be_visible()
    field = palette.get_by_role("combobox", name="Search")
    expect(field).to_be_focused()
    # With nothing typed it offers the header's pages.
    expect(palette.get_by_role("option", name="DAGs", exact=True)).to_be_visible()
    # Arrow keys move the selection among the results (the first is selected).
    field.fill("ui_")
    dags = palette.locator('[role="option"][data-kind="dags"]')
    expect(dags.nth(1)).to_be_visible()
    expect(dags.nth(0)).to_have_attribute("aria-selected", "true")
    field.press("ArrowDown")
    expect(dags.nth(1)).to_have_attribute("aria-selected", "true")
    expect(dags.nth(0)).to_have_attribute("aria-selected", "false")
    field.press("ArrowUp")
    expect(dags.nth(0)).to_have_attribute("aria-selected", "true")
    field.fill("ui_mark")
    expect(palette.get_by_role("option")).to_have_count(1)
    option = palette.get_by_role("option").first
    expect(option).to_contain_text("ui_mark")
    expect(option).to_have_attribute("aria-selected", "true")
    field.press("Enter")
    expect(page).to_have_url(re.compile(r"/dags/ui_mark/grid$"))
    # Esc closes it, and the focus goes back where it was.
    page.goto("/dags")
    page.get_by_role("button", name=re.compile("^Search")).focus()
    page.keyboard.press("Control+k")
    expect(page.get_by_role("dialog", name="Search")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Search")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Search"))).to_be_focused()
    assert page.console_errors == []


def test_question_mark_lists_the_shortcuts_but_not_while_typing(page):
    page.goto("/dags")
    expect(page.locator("#dag-rows tr[data-dag-id]").first).to_be_visible()
    # Typing "?" in a field is just typing.
    search = page.get_by_label("Search DAGs")
    search.click()
    page.keyboard.type("a?")
    expect(search).to_have_value("a?")
    expect(page.get_by_role("dialog")).to_have_count(0)
    search.fill("")
    page.locator("h1").click()
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Search DAGs, tasks and runs")
    expect(help_dialog).to_contain_text("Show keyboard shortcuts")
    # A page's own shortcut (as the grid registers them) is listed under its scope.
    page.keyboard.press("Escape")
    expect(help_dialog).to_have_count(0)
    page.evaluate("() => { window.__hit = 0; tw.shortcuts.add('shift+j', 'Jump somewhere', () => { window.__hit += 1; }, 'Test page'); }")
    page.keyboard.press("Shift+J")
    assert page.evaluate("window.__hit") == 1
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(help_dialog).to_contain_text("Test page")
    expect(help_dialog).to_contain_text("Jump somewhere")
    # While a dialog is open, page shortcuts stay quiet.
    page.keyboard.press("Shift+J")
    assert page.evaluate("window.__hit") == 1
    page.keyboard.press("Escape")
    expect(help_dialog).to_have_count(0)
    # "g" then "r" goes to Runs.
    page.keyboard.press("g")
    page.keyboard.press("r")
    expect(page).to_have_url(re.compile(r"/runs$"))
    assert page.console_errors == []


def test_dialogs_close_on_escape_keep_the_focus_inside_and_fit_the_window(page):
    page.set_viewport_size({"width": 1024, "height": 500})
    page.goto("/dags")
    opener = page.get_by_role("button", name="Keyboard shortcuts")
    opener.focus()
    # A tall dialog: its body scrolls inside; the dialog is never taller than the window.
    page.evaluate("""() => {
        const body = tw.el("div", {}, Array.from({ length: 80 }, (_, i) => tw.el("p", {}, `line ${i}`)),
                           tw.el("input", { "aria-label": "Last field" }));
        tw.dialog("Tall", body, [{ label: "Save", primary: true, onclick: () => true }]);
    }""")
    dialog = page.get_by_role("dialog", name="Tall")
    expect(dialog).to_be_visible()
    box = dialog.locator(".panel").bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 500
    expect(dialog.get_by_role("button", name="Save")).to_be_in_viewport()
    expect(dialog.get_by_label("Last field")).to_be_focused()
    # Tab cycles inside the dialog: field -> Cancel -> Save -> field.
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Save")).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_label("Last field")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(dialog.get_by_role("button", name="Save")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(opener).to_be_focused()
    assert page.console_errors == []


def test_time_zone_chooser_shows_times_in_any_zone(page):
    page.goto("/dags")
    zone = page.get_by_label("Time zone")
    expect(zone).to_have_value("UTC")
    assert page.evaluate("tw.fmtTime('2024-01-01T00:00:00Z')") == "2024-01-01 00:00:00 UTC"
    zone.select_option("Asia/Tokyo")
    assert page.evaluate("tw.fmtTime('2024-01-01T00:00:00Z')") == "2024-01-01 09:00:00"
    assert page.evaluate("tw.zonedToIso('2024-01-01T09:30')") == "2024-01-01T00:30:00.000Z"
    page.goto("/runs")
    expect(page.get_by_label("Time zone")).to_have_value("Asia/Tokyo")
    assert page.evaluate("tw.fmtTime('2024-07-01T12:00:00Z', { seconds: false })") == "2024-07-01 21:00"
    page.get_by_label("Time zone").select_option("America/New_York")  # daylight saving time in July
    assert page.evaluate("tw.fmtTime('2024-07-01T12:00:00Z')") == "2024-07-01 08:00:00"
    assert page.evaluate("tw.zonedToIso('2024-01-15T07:00:00')") == "2024-01-15T12:00:00.000Z"
    page.get_by_label("Time zone").select_option("UTC")
    assert page.evaluate("tw.tz()") == "UTC"
    assert page.console_errors == []


def test_header_fits_at_1024_px_and_its_menus_work_from_the_keyboard(page):
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto("/dags")
    expect(page.locator("#dag-rows tr[data-dag-id]").first).to_be_visible()
    overflow = page.evaluate("""() => {
        const bar = document.querySelector(".topbar");
        const out = [...bar.querySelectorAll("a, button, select")].filter((n) => n.getBoundingClientRect().right > innerWidth);
        return { page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
                 bar: bar.scrollWidth - bar.clientWidth, outside: out.map((n) => n.textContent.trim()) };
    }""")
    assert overflow == {"page": 0, "bar": 0, "outside": []}
    # The header stays one row.
    assert page.locator(".topbar").bounding_box()["height"] < 60
    browse = page.locator("#menu-browse-button")
    expect(browse).to_have_attribute("aria-expanded", "false")
    browse.focus()
    page.keyboard.press("Enter")
    expect(browse).to_have_attribute("aria-expanded", "true")
    runs = page.locator("#menu-browse").get_by_role("link", name="Runs")
    expect(runs).to_be_visible()
    page.keyboard.press("ArrowDown")
    expect(runs).to_be_focused()
    page.keyboard.press("Escape")
    expect(browse).to_have_attribute("aria-expanded", "false")
    expect(browse).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(runs).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/runs$"))
    browse = page.locator("#menu-browse-button")
    expect(page.locator(".navmenu.active .navmenu-button")).to_have_text("Browse")
    browse.click()
    expect(page.locator("#menu-browse").get_by_role("link", name="Runs")).to_have_attribute("aria-current", "page")
    page.locator("h1").click()  # a click elsewhere closes the menu
    expect(browse).to_have_attribute("aria-expanded", "false")
    assert page.console_errors == []
