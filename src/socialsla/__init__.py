"""socialsla: real-time first-reply SLAs for social customer care."""
