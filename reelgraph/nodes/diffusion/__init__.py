"""Generative nodes (diffusers): text-to-image, image-to-image, text-to-video, image-to-video.

Models come from the models folder (reelgraph.models): diffusers folders under
`models/diffusers/`, single-file SD/SDXL checkpoints under `models/checkpoints/`.
The model is a COMBO widget on each node (listing what is on disk for that task);
loaded pipelines live in the shared model cache, so every node and run asking for the
same model reuses one pipeline.

One module per job, each importing torch/diffusers only inside its functions, so
importing the pack stays cheap:

    families     which pipeline classes do which task; video family traits
    catalog      what is on disk, the COMBO options, checking a model before it loads
    geometry     size and frame rules from the model's configs
    schedulers   scheduler choices that fit a model, and building them
    loading      from_pretrained / from_single_file through the model cache, offline
    previews     per-step progress and latent previews (the cancellation point)
    convert      IMAGE -> PIL, pipeline images -> IMAGE, frames -> VIDEO
    calls        one pipeline call: its kwargs, generator, VAE options, scheduler
    validation   validation and fingerprint hooks of the nodes
    widgets      widget types of the nodes' inputs
    nodes        the node declarations (found by the registry's walk of this package)
"""
