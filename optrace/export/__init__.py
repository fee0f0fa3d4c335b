"""Export: frames streamed into sinks (GIF, MP4), stills, and the live window."""
