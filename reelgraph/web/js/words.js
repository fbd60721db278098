// Plain words for what a run is doing and for what went wrong, for people who never see the graph.

// node type -> what it does, as a person would say it (first match wins)
const VERBS = [
  [/^tts\./, "Narrating"],
  [/TitleCard/, "Drawing the title card"],
  [/^slides\./, "Drawing the slides"],
  [/^diffusion\./, "Generating the picture"],
  [/^avatar\./, "Animating the presenter"],
  [/^video\.(ImageToClip|KenBurns)/, "Animating"],
  [/^video\.Concat/, "Joining the scenes"],
  [/^video\.Fade/, "Fading in and out"],
  [/^video\.Encode|^encode\./, "Saving the video"],
  [/^subtitles\.Burn/, "Putting the subtitles on the picture"],
  [/^subtitles\.Save/, "Saving the subtitles"],
  [/^subtitles\./, "Timing the subtitles"],
  [/^audio\./, "Preparing the sound"],
  [/^provenance\./, "Labelling the video as AI-made"],
  [/^text\.SplitScenes/, "Splitting the script into scenes"],
  [/^text\./, "Reading the script"],
  [/^image\./, "Preparing the pictures"],
  [/^video\./, "Editing the video"],
];

/** "Narrating scene 2 of 5": a step (id, type, title) and its progress ({value, max, item}) or null. */
export function stepWords(step, progress) {
  const hit = VERBS.find(([re]) => re.test(step.type || ""));
  const verb = hit ? hit[1] : `Running “${step.title || step.type}”`;
  if (progress && progress.max > 1) {
    if (progress.item !== undefined && progress.item !== null) return `${verb} scene ${progress.value} of ${progress.max}`;
    return `${verb} (${Math.round((100 * progress.value) / progress.max)}%)`;
  }
  return `${verb}…`;
}

// what an error message usually means, said plainly (first match wins)
const MEANINGS = [
  [/cancel/i, "It was stopped before the end."],
  [/no such file|not found|does not exist|missing file|FileNotFound/i, "A file it needs could not be found. Check the files you chose."],
  [/model|weights|checkpoint/i, "A model it needs is not installed on this computer."],
  [/out of memory|CUDA|MemoryError/i, "The computer ran out of memory. Try a shorter text or a smaller size."],
  [/empty|no scenes|nothing to/i, "Something it needs was empty. Check that every field is filled in."],
  [/must be|expected|invalid|not a valid|between|at least|at most/i, "One of the settings has a value it cannot use."],
  [/timeout|timed out/i, "It took too long and was stopped."],
];

/** {text}: a sentence a non-expert understands; the raw message goes under "technical details". */
export function plainError(message) {
  const m = String(message || "");
  const hit = MEANINGS.find(([re]) => re.test(m));
  return { text: hit ? hit[1] : "Something went wrong while making the video. The technical details below say what." };
}
