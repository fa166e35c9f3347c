"""FashionStudio: a desktop studio for editing fashion images with GANs.

Sub-packages:
- ``fashionstudio.core``   Qt-free logic (images, poses, model files, registry, devices, tool pipelines).
- ``fashionstudio.models`` the nn.Module architectures, one file per GAN family.
- ``fashionstudio.gui``    the thin PySide6 layer.
"""

__version__ = "0.1.0"
APP_NAME = "FashionStudio"
ORG_NAME = "FashionStudio"
