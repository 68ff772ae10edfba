from doorstep.cli import main

raise SystemExit(main())
