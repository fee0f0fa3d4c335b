#!/usr/bin/env bash
# Debian packages the test suite needs: a virtual X server, xdotool to drive
# the window, the xcb libraries Qt 6 loads for its X11 platform plugin, and
# Chromium with its WebDriver for the HTML player's browser tests, and PostgreSQL,
# whose initdb and pg_ctl make the throwaway server of the shared-study tests.
set -euo pipefail

packages=(
    xvfb xauth xdotool
    libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
    libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1
    libegl1 libgl1 libfontconfig1 libdbus-1-3
    chromium chromium-driver fonts-dejavu-core
    postgresql
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
