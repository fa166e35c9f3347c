#!/bin/bash
# Make a drag-to-install disk image from the built app:  make_dmg.sh FashionStudio.app OUT.dmg
# (build.py macos --archive calls it). Needs macOS (hdiutil). The window shows the app next to an
# Applications link, the usual "drag here to install" layout.
set -euo pipefail
APP=${1:?path to FashionStudio.app}
DMG=${2:?output .dmg path}
STAGING=$(mktemp -d)
trap 'rm -rf "$STAGING"' EXIT
cp -R "$APP" "$STAGING/"
ln -s /Applications "$STAGING/Applications"
rm -f "$DMG"
# UDZO = zlib-compressed, read-only: the format every macOS version opens.
hdiutil create -volname FashionStudio -srcfolder "$STAGING" -fs HFS+ -format UDZO -ov "$DMG"
echo "wrote $DMG"
# Unsigned apps are blocked by Gatekeeper on other Macs. To distribute, sign and notarise first:
#   codesign --deep --force --options runtime --sign "Developer ID Application: ..." "$APP"
#   xcrun notarytool submit "$DMG" --keychain-profile ... --wait && xcrun stapler staple "$DMG"
