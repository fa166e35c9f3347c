"""FlatWarp trainer: PixelDTGAN's two discriminators around a warp-then-compose generator.

One step, on (person photo P, its flat garment F with mask M and the joints of both, an unassociated flat F'):

- G: parts = G(P) (joints, warp of P into the flat layout, mask m, fill), out = m * fill + (1 - m) * white.
- D_R(flat) real/fake, D_A(person, flat) association with F' as a real-but-unassociated negative (PixelDTGAN).
- L_G = adv_r·L_adv(D_R(out)) + adv_a·L_adv(D_A(P, out)) + l1_in·L1 inside M + l1_out·L1 outside M
  + mask·BCE(m, M) + feature·Σ_k ‖φ_k(out) − φ_k(F)‖₁ + joints·(L_joints(person) + L_joints(flat)),
  φ_k the offline atelier network's trunk (PoseWarp's feature loss); L_joints the L1 of the joint positions
  (a share of the image) on present joints plus the BCE of their presence, on items that have joints.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from training.trainers import losses
from training.trainers.trainer import Trainer


def masked_mean_l1(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean |x - y| over the pixels ``weight`` [N,1,H,W] selects (0 when it selects none)."""
    err = (x.float() - y.float()).abs().mean(dim=1, keepdim=True)
    return (err * weight).sum() / weight.sum().clamp_min(1.0)


def mask_loss(logit: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """BCE of the predicted flat mask against the true one."""
    return F.binary_cross_entropy_with_logits(logit.float(), mask.float())


def joints_loss(pred: torch.Tensor, present_logit: torch.Tensor, target: torch.Tensor, labelled: torch.Tensor,
                size: int) -> torch.Tensor:
    """L1 of joint positions as a share of the image on present joints, plus the presence BCE, over the items
    that carry joints (``labelled`` [N] bool); 0 when none does."""
    if not bool(labelled.any()):
        return pred.sum() * 0
    pred, present_logit, target = pred[labelled], present_logit[labelled], target[labelled]
    present = (target >= 0).all(dim=-1).float()
    pos = ((pred.float() - target.float()).abs().sum(-1) * present).sum() / present.sum().clamp_min(1.0) / size
    return pos + F.binary_cross_entropy_with_logits(present_logit.float(), present)


class FlatWarpTrainer(Trainer):
    DEFAULT_LR = {"G": 2e-4, "D_R": 2e-4, "D_A": 2e-4}
    DEFAULT_LOSS = {"adversarial": "lsgan", "l1_in": 10.0, "l1_out": 5.0, "mask": 2.0, "feature": 10.0,
                    "joints": 10.0, "adv_r": 1.0, "adv_a": 1.0}
    MONITOR = "l1"
    BEST_METRIC = "l1"
    PLATEAU_LOSS = {"G": "G", "D_R": "D_R", "D_A": "D_A"}

    def make_optimizers(self):
        self.adv_kind = losses.check_kind(self.cfg.loss["adversarial"])
        self.feature_loss = losses.AtelierFeatureLoss(self.device) if float(self.cfg.loss["feature"]) > 0 else None
        return {name: self.adam(name, self.nets[name].parameters()) for name in ("G", "D_R", "D_A")}

    def train_step(self, batch):
        G, D_R, D_A = self.nets["G"], self.nets["D_R"], self.nets["D_A"]
        person, flat, other, mask = batch["person"], batch["flat"], batch["flat_other"], batch["flat_mask"]
        kind = self.adv_kind
        with self.autocast():
            parts = G.parts(person)
            fake = parts["output"]
            l_dr, l_da = losses.domain_transfer_d_losses(D_R, D_A, person, flat, fake, other, kind)
        values = self.check_finite({"D_R": l_dr, "D_A": l_da})
        self.update("D_R", l_dr)
        self.update("D_A", l_da)

        self.set_requires_grad(["D_R", "D_A"], False)
        with self.autocast():
            adv_r, adv_a = losses.domain_transfer_g_adv(D_R, D_A, person, fake, kind)
        self.set_requires_grad(["D_R", "D_A"], True)
        r = person.shape[-1]
        l1_in = masked_mean_l1(fake, flat, mask)
        l1_out = masked_mean_l1(fake, flat, 1 - mask)
        l_mask = mask_loss(parts["mask_logit"], mask)
        l_feat = self.feature_loss(fake, flat) if self.feature_loss is not None else torch.zeros(())
        l_joints = (joints_loss(parts["person_kp"], parts["person_present"], batch["person_kp"],
                                (batch["person_kp"] >= 0).any(-1).any(-1), r)
                    + joints_loss(parts["flat_kp"], parts["flat_present"], batch["flat_kp"],
                                  (batch["flat_kp"] >= 0).any(-1).any(-1), r))
        l_g = (self.weight("adv_r") * adv_r + self.weight("adv_a") * adv_a + self.weight("l1_in") * l1_in
               + self.weight("l1_out") * l1_out + self.weight("mask") * l_mask + self.weight("feature") * l_feat
               + self.weight("joints") * l_joints)
        l1 = (fake.detach().float() - flat.float()).abs().mean()
        values.update(self.check_finite({"G_adv_r": adv_r, "G_adv_a": adv_a, "l1_in": l1_in, "l1_out": l1_out,
                                         "mask": l_mask, "feature": l_feat, "joints": l_joints, "l1": l1,
                                         "G": l_g}))
        self.update("G", l_g)
        return values

    @torch.no_grad()
    def sample_rows(self, fixed):
        parts = self.inference_net("G").parts(fixed["person"])
        return [("person", fixed["person"]), ("flat (target)", fixed["flat"]), ("keypoint warp", parts["coarse"]),
                ("refined warp", parts["warped"]), ("mask", parts["mask"] * 2 - 1), ("extracted", parts["output"])]

    @torch.no_grad()
    def evaluate(self, fixed):
        parts = self.inference_net("G").parts(fixed["person"])
        m = fixed["flat_mask"]
        pred = (parts["mask"] > 0.5).float()
        iou = (pred * m).sum() / ((pred + m) > 0).float().sum().clamp_min(1.0)
        return {"l1": float((parts["output"] - fixed["flat"]).abs().mean()), "mask_error": float(1 - iou)}
