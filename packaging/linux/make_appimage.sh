#!/bin/sh
# AppImage recipe: turns the built bundle into one FashionStudio-x86_64.AppImage file.
#   make_appimage.sh packaging/dist/linux-cpu/FashionStudio packaging/dist/FashionStudio-x86_64.AppImage
# Needs appimagetool on PATH (from the AppImage project; it is not on PyPI or Debian, so it is not run here).
# The tarball (build.py linux-cpu --archive) is the default: an AppImage re-mounts and decompresses its
# squashfs image at every start, which adds to torch's cold start.
set -eu
BUNDLE=${1:?path to the built FashionStudio folder}
OUT=${2:?output .AppImage path}
HERE=$(cd "$(dirname "$0")" && pwd)
APPDIR=$(mktemp -d)/FashionStudio.AppDir
mkdir -p "$APPDIR/usr/lib" "$APPDIR/usr/share/applications"
cp -a "$BUNDLE" "$APPDIR/usr/lib/fashionstudio"
cp "$HERE/fashionstudio.desktop" "$APPDIR/fashionstudio.desktop"
cp "$HERE/fashionstudio.desktop" "$APPDIR/usr/share/applications/fashionstudio.desktop"
cp "$BUNDLE/_internal/resources/icons/fashionstudio-256.png" "$APPDIR/fashionstudio.png"
for s in 16 24 32 48 64 128 256 512; do
    mkdir -p "$APPDIR/usr/share/icons/hicolor/${s}x${s}/apps"
    cp "$BUNDLE/_internal/resources/icons/fashionstudio-$s.png" "$APPDIR/usr/share/icons/hicolor/${s}x${s}/apps/fashionstudio.png"
done
cat > "$APPDIR/AppRun" <<'RUN'
#!/bin/sh
HERE=$(dirname "$(readlink -f "$0")")
exec "$HERE/usr/lib/fashionstudio/fashionstudio" "$@"
RUN
chmod +x "$APPDIR/AppRun"
ARCH=x86_64 appimagetool "$APPDIR" "$OUT"
