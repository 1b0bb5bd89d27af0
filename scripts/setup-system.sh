#!/usr/bin/env bash
# Install the system programs `make test` needs, only those that are missing, and say which:
#
#   make                  to run the Makefile (.ci/run calls this script first when it is missing)
#   PostgreSQL server     initdb and pg_ctl: the tests start a PostgreSQL of their own
#   Chromium              the dashboard is tested in a real headless browser ...
#   CJK fonts             ... with fonts that have Chinese glyphs
#   LibreOffice, poppler  the workbook is printed to PDF headless and its pages read back
#   uv                    builds the project's Python environment from uv.lock
#
# Debian/Ubuntu (apt-get). As root it installs directly, otherwise through sudo; when neither
# works it prints the command to run and exits 1. With everything present it only looks
# (well under a second) and installs nothing. The Debian postgresql package starts a cluster of
# its own; the tests start their own server, so that service is stopped after installing.
set -euo pipefail

say() { echo "setup-system: $*" >&2; }

apt_packages=()   # what apt-get installs
reasons=()        # why, for the message
need() { apt_packages+=("$1"); reasons+=("$1 ($2)"); }

command -v make >/dev/null 2>&1 || need make "runs the Makefile"
pg_found=""
for d in /usr/lib/postgresql/*/bin; do
  if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then pg_found="$d"; fi
done
[ -n "$pg_found" ] || need postgresql "PostgreSQL server binaries for the tests' own server"
if [ ! -x /usr/bin/chromium ] && ! command -v chromium >/dev/null 2>&1; then
  need chromium "headless browser for the dashboard test"
fi
if ! command -v fc-list >/dev/null 2>&1; then
  need fontconfig "fc-list, to find the CJK fonts"
  need fonts-noto-cjk "Chinese glyphs in the dashboard and screenshots"
elif [ -z "$(fc-list :lang=zh family 2>/dev/null | head -n 1)" ]; then
  need fonts-noto-cjk "Chinese glyphs in the dashboard and screenshots"
fi
# the evaluation workbook's print test converts it with LibreOffice and reads the PDF's text
command -v soffice >/dev/null 2>&1 || need libreoffice-calc-nogui "LibreOffice, headless: the workbook print test"
command -v pdftotext >/dev/null 2>&1 || need poppler-utils "pdftotext, pdfinfo: read the printed workbook"
if command -v fc-list >/dev/null 2>&1 && [ -z "$(fc-list 2>/dev/null | grep -i carlito | head -n 1)" ]; then
  need fonts-crosextra-carlito "Calibri's metrics, so LibreOffice lays columns out as Excel does"
fi
need_uv=""
if ! command -v uv >/dev/null 2>&1 && [ ! -x "$HOME/.local/bin/uv" ]; then
  need_uv=1
  # uv comes from PyPI through pip (Debian has no uv package)
  python3 -m pip --version >/dev/null 2>&1 || need python3-pip "pip, to install uv from PyPI"
fi

if [ ${#apt_packages[@]} -eq 0 ] && [ -z "$need_uv" ]; then
  say "nothing to install (make, PostgreSQL server in ${pg_found%/bin}, Chromium, CJK fonts, LibreOffice, poppler, uv present)"
  exit 0
fi

if [ ${#apt_packages[@]} -gt 0 ]; then
  command=(apt-get install -y -qq "${apt_packages[@]}")
  say "installing with apt-get:"
  for r in "${reasons[@]}"; do say "  $r"; done
  if ! command -v apt-get >/dev/null 2>&1; then
    say "no apt-get on this machine: install these with your system's package manager: ${apt_packages[*]}"
    exit 1
  fi
  if [ "$(id -u)" -eq 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
    sudo=(sudo)
    say "(through sudo)"
  else
    say "need root to install them; run:"
    say "  sudo apt-get update && sudo ${command[*]}"
    say "  (or as root: apt-get update && ${command[*]}), then run this again"
    exit 1
  fi
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive "${command[@]}" >/dev/null
  if [ -z "$pg_found" ]; then
    # the Debian package starts a cluster of its own; the tests start their own server
    ("${sudo[@]}" service postgresql stop || true) >/dev/null 2>&1
    say "stopped the postgresql service the Debian package started (the tests start their own server)"
  fi
fi

if [ -n "$need_uv" ]; then
  say "installing uv (from PyPI with pip, into ~/.local/bin)"
  python3 -m pip install --quiet --user uv 2>/dev/null \
    || python3 -m pip install --quiet --user --break-system-packages uv
fi
say "done"
