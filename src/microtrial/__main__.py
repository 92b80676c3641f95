from microtrial.cli import main

raise SystemExit(main())
