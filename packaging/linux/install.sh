#!/bin/sh
# Installs FashionStudio for the current user from an unpacked bundle (no root needed):
# a menu entry, the icon in every size, and "Open with FashionStudio" for PNG/JPEG/WebP/BMP/TIFF images.
# Run it from the unpacked FashionStudio folder:  ./install.sh      Undo:  ./install.sh --uninstall
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
APPS=$DATA/applications
ICONS=$DATA/icons/hicolor
SIZES="16 24 32 48 64 128 256 512"

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$APPS/fashionstudio.desktop"
    for s in $SIZES; do rm -f "$ICONS/${s}x${s}/apps/fashionstudio.png"; done
else
    mkdir -p "$APPS"
    # Exec must name the executable by absolute path: the bundle is not on PATH.
    sed "s|^Exec=fashionstudio|Exec=\"$HERE/fashionstudio\"|" "$HERE/fashionstudio.desktop" > "$APPS/fashionstudio.desktop"
    for s in $SIZES; do
        mkdir -p "$ICONS/${s}x${s}/apps"
        cp "$HERE/_internal/resources/icons/fashionstudio-$s.png" "$ICONS/${s}x${s}/apps/fashionstudio.png"
    done
fi
# Refresh the caches when the tools exist; desktops pick the changes up at the next login otherwise.
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$APPS" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$ICONS" || true
echo "FashionStudio: done. It is in your applications menu and in 'Open with' for images."
