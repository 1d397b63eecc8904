"""The pretrained files the learned metrics load, declared as ``Weights`` (file, URL, sha256,
licence, size).

They live in the torch hub cache ``$TORCH_HOME/hub/checkpoints`` (where torchvision and
torch-fidelity put them). ``ensure()`` finds the file (downloading it when the network
allows), checks its sha256 and only then is it read, by colorbench, with
``torch.load(weights_only=True)``: never by lpips, torchvision or torch-fidelity, whose
loaders unpickle. A missing file offline (or with ``COLORBENCH_OFFLINE=1``) or one whose hash
differs makes the metric unavailable with one line.

``sha256`` is the 8-hex prefix in each file name (torchvision's ``<arch>-<sha256[:8]>.pth``
convention, which torch.hub checks); the publishers give no full digest.
"""

from __future__ import annotations

from colorbench.models.weights import Weights, torchvision_weights

ALEXNET = torchvision_weights("alexnet-owt-7be5be79.pth", "LPIPS AlexNet trunk (torchvision)",
                              "torchvision AlexNet_Weights.IMAGENET1K_V1 (ImageNet-1k classification)")
VGG16 = torchvision_weights("vgg16-397923af.pth", "LPIPS VGG-16 trunk (torchvision)",
                            "torchvision VGG16_Weights.IMAGENET1K_V1 (ImageNet-1k classification)")
INCEPTION = Weights(
    name="fid-inception-v3", file="weights-inception-2015-12-05-6726825d.pth", sha256="6726825d",
    url="https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
    licence="Apache-2.0 (TensorFlow inception-2015-12-05, converted by torch-fidelity)",
    training="TensorFlow Inception-v3 2015-12-05 graph (the FID reference network)",
    description="FID/KID Inception-v3 (torch-fidelity, TF 2015-12-05 port)",
)
