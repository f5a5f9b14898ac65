"""The measures of benchmarks/photo_realism.py: motion-compensated chroma change, an
independent identity descriptor, the lips and the edit's footprint in a photograph.

OpenCV (optical flow) and dlib (descriptor) are benchmark tools only, never
dependencies of conceptvae: ``pip install opencv-python-headless dlib-bin``.
"""

from __future__ import annotations

import numpy as np

# MediaPipe face mesh: the lips' outer contour (FACEMESH_LIPS), in order around the mouth.
LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
CHANGED = 3  # levels of 255: a pixel the edit changed (rounding of an untouched pixel is < 1)


def grow(box, frac: float, shape) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) integer window: ``box`` (x, y, w, h) grown by ``frac`` of its
    size on each side, clipped to the picture."""
    x, y, w, h = box
    x0, y0 = int(max(0, np.floor(x - frac * w))), int(max(0, np.floor(y - frac * h)))
    x1 = int(min(shape[1], np.ceil(x + w + frac * w)))
    y1 = int(min(shape[0], np.ceil(y + h + frac * h)))
    return x0, y0, x1, y1


def polygon_mask(shape, pts: np.ndarray, offset=(0, 0)) -> np.ndarray:
    from PIL import Image, ImageDraw

    im = Image.new("L", (shape[1], shape[0]), 0)
    xy = [(float(px - offset[0]), float(py - offset[1])) for px, py in pts]
    ImageDraw.Draw(im).polygon(xy, fill=1)
    return np.asarray(im, bool)


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    import cv2

    if radius <= 0:
        return mask
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), k) > 0


def _structure(grey: np.ndarray) -> np.ndarray:
    """Grey levels with the local mean and contrast taken out (sigma 4 px): the edit
    brightens and darkens regions, and a flow on raw brightness explains that by
    dragging pixels from elsewhere (which adds colour error instead of removing it)."""
    import cv2

    g = grey.astype(np.float32)
    mu = cv2.GaussianBlur(g, (0, 0), 4)
    sd = np.sqrt(cv2.GaussianBlur((g - mu) ** 2, (0, 0), 4)) + 4
    return np.clip((g - mu) / sd * 40 + 128, 0, 255).astype(np.uint8)


def warp_onto(original: np.ndarray, edited: np.ndarray, smooth: float) -> tuple[np.ndarray, np.ndarray]:
    """``original`` moved onto ``edited`` by dense optical flow (DIS, Kroeger et al. 2016,
    on local structure, then smoothed with a Gaussian of ``smooth`` px: the motion of an
    edit is smooth), and the flow (H, W, 2): edited(x) ~ original(x + flow(x))."""
    import cv2

    grey = [_structure(cv2.cvtColor(np.ascontiguousarray(a), cv2.COLOR_RGB2GRAY))
            for a in (edited, original)]  # fmt: skip
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow = cv2.GaussianBlur(dis.calc(grey[0], grey[1], None), (0, 0), max(smooth, 0.5))
    h, w = grey[0].shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    moved = cv2.remap(original, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    return moved, flow


def chroma(rgb: np.ndarray) -> np.ndarray:
    """CIELab chroma sqrt(a*^2 + b*^2) (D65) of uint8 RGB."""
    from skimage.color import rgb2lab

    lab = rgb2lab(rgb.astype(np.float64) / 255.0)
    return np.hypot(lab[..., 1], lab[..., 2])


def chroma_change(photo: np.ndarray, out: np.ndarray, box, lips_pts: list[np.ndarray]) -> dict:
    """The face's changed pixels outside the lips: |chroma(edit) - chroma(photo moved
    onto the edit)|, 95th percentile and median, and the same without the motion
    compensation (for comparison)."""
    x0, y0, x1, y1 = grow(box, 0.25, photo.shape)  # context for the flow
    a, b = photo[y0:y1, x0:x1], out[y0:y1, x0:x1]
    moved, flow = warp_onto(a, b, 0.04 * box[2])
    fx0, fy0, fx1, fy1 = grow(box, 0.0, photo.shape)
    inside = np.zeros(a.shape[:2], bool)
    inside[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0] = True
    lips = np.zeros_like(inside)
    for pts in lips_pts:
        lips |= polygon_mask(a.shape, pts, (x0, y0))
    lips = dilate(lips, max(1, int(round(0.04 * box[2]))))
    changed = np.abs(b.astype(np.int16) - a.astype(np.int16)).max(-1) >= CHANGED
    sel = inside & changed & ~lips
    if not sel.any():
        return {"chroma_p95": 0.0, "chroma_median": 0.0, "chroma_raw_p95": 0.0,
                "changed_px": 0, "flow_px": 0.0}  # fmt: skip
    cb = chroma(b)
    d = np.abs(cb - chroma(moved))[sel]
    raw = np.abs(cb - chroma(a))[sel]
    return {
        "chroma_p95": round(float(np.percentile(d, 95)), 2),
        "chroma_median": round(float(np.median(d)), 2),
        "chroma_raw_p95": round(float(np.percentile(raw, 95)), 2),
        "changed_px": int(sel.sum()),
        "flow_px": round(float(np.percentile(np.hypot(*flow[sel].T), 95)), 2),
    }


class Descriptor:
    """dlib's face-recognition ResNet (CC0; 128-D, Euclidean distance, 0.6 is dlib's
    same-person threshold), aligned by dlib's own 5-point shape predictor (CC0) inside a
    box from dlib's HOG detector, or the library's box where HOG finds no face."""

    def __init__(self) -> None:
        import dlib
        from photo_sources import DLIB_FIVE, DLIB_RESNET, path_of

        self.dlib = dlib
        self.shape = dlib.shape_predictor(str(path_of(DLIB_FIVE)))
        self.net = dlib.face_recognition_model_v1(str(path_of(DLIB_RESNET)))
        self.hog = dlib.get_frontal_face_detector()

    def rect(self, photo: np.ndarray, box):
        """dlib's rectangle for the library's face ``box`` (x, y, w, h)."""
        dlib = self.dlib
        x0, y0, x1, y1 = grow(box, 0.5, photo.shape)
        crop = np.ascontiguousarray(photo[y0:y1, x0:x1])
        up = 1 if box[2] < 120 else 0
        best, best_iou = None, 0.2
        bx0, by0, bx1, by1 = box[0], box[1], box[0] + box[2], box[1] + box[3]
        for r in self.hog(crop, up):
            rx0, ry0, rx1, ry1 = r.left() + x0, r.top() + y0, r.right() + x0, r.bottom() + y0
            ix = max(0, min(bx1, rx1) - max(bx0, rx0))
            iy = max(0, min(by1, ry1) - max(by0, ry0))
            iou = ix * iy / ((bx1 - bx0) * (by1 - by0) + (rx1 - rx0) * (ry1 - ry0) - ix * iy)
            if iou > best_iou:
                best, best_iou = dlib.rectangle(rx0, ry0, rx1, ry1), iou
        if best is not None:
            return best, True
        return dlib.rectangle(int(bx0), int(by0), int(bx1), int(by1)), False

    def __call__(self, photo: np.ndarray, rect) -> np.ndarray:
        img = np.ascontiguousarray(photo)
        return np.asarray(self.net.compute_face_descriptor(img, self.shape(img, rect)))


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def footprint(shape, faces, alignment) -> np.ndarray:
    """Pixels an edit of ``faces`` may change: each face's aligned crop window (the
    model's square mapped back into the photo), grown by 2 pixels."""
    from conceptvae.faces import similarity
    from conceptvae.faces.warp import apply, invert

    s = alignment.image_size
    corners = np.array([[0, 0], [s, 0], [s, s], [0, s]], np.float64)
    mask = np.zeros(shape[:2], bool)
    for f in faces:
        m = similarity(f.landmarks, alignment.template)
        mask |= polygon_mask(shape, apply(invert(m), corners))
    return dilate(mask, 2)
