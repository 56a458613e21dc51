#!/usr/bin/env bash
# Installs the Debian packages dronekit-plzen needs (Qt's xcb libraries, Xvfb, fonts, GDAL-free
# runtime libraries for the wheels). Runs apt-get only when something is missing.
set -euo pipefail

pkgs=(
  libgl1 libegl1 libglib2.0-0 libfontconfig1 libfreetype6 libdbus-1-3 libxkbcommon0
  libxkbcommon-x11-0 libxcb1 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
  libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xfixes0 libxcb-xkb1 libx11-xcb1
  libxrender1 libxi6 xvfb xauth fonts-dejavu-core
  chromium chromium-driver  # web portal tests: headless browser driven by Selenium
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# the web portal's front-end libraries (Leaflet) come from the npm registry: Debian's nodejs and
# npm unless a Node.js with npm is already installed (e.g. NodeSource's, which bundles npm)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "Installing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 && SUDO="sudo" || {
    echo "error: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
