# Boilerplate written for the akhbar sample site (menus, footers, lists). Not article text.
SECTIONS = [("/index.html", "الرئيسية"), ("/news/index.html", "أخبار"), ("/world/index.html", "العالم"),
            ("/economy/index.html", "اقتصاد"), ("/sports/index.html", "رياضة"), ("/culture/index.html", "ثقافة وفنون"),
            ("/tech/index.html", "تكنولوجيا"), ("/health/index.html", "صحة"), ("/opinion/index.html", "آراء"),
            ("/video/index.html", "فيديو"), ("/photos/index.html", "صور"), ("/podcasts/index.html", "بودكاست"),
            ("/investigations/index.html", "تحقيقات"), ("/interviews/index.html", "مقابلات"), ("/varieties/index.html", "منوعات")]

SUBSECTIONS = ["الشرق الأوسط", "الخليج", "شمال أفريقيا", "أوروبا", "آسيا", "الأميركيتان", "أفريقيا", "أسواق المال",
               "طاقة", "عقارات", "شركات", "كرة القدم", "رياضات أخرى", "سينما", "كتب", "مسرح", "موسيقى", "علوم",
               "بيئة", "سياحة وسفر", "سيارات", "أسرة", "تعليم", "وظائف"]

MOST_READ = [
    "ارتفاع أسعار الذهب في الأسواق المحلية مع بداية الأسبوع",
    "الأرصاد تتوقع أمطارا رعدية على المناطق الشمالية غدا",
    "افتتاح معرض الكتاب الدولي بمشاركة أكثر من 500 دار نشر",
    "المنتخب الوطني يبدأ معسكره الإعدادي استعدادا للتصفيات",
    "وزارة التعليم تعلن مواعيد الاختبارات النهائية للفصل الثاني",
    "تراجع أسعار النفط بعد بيانات المخزونات الأميركية",
    "البنك المركزي يبقي أسعار الفائدة دون تغيير",
    "إطلاق تطبيق جديد لخدمات النقل العام في العاصمة",
    "مهرجان السينما العربية يعلن قائمة الأفلام المشاركة",
    "دراسة: المشي نصف ساعة يوميا يقلل مخاطر أمراض القلب",
    "ارتفاع عدد السياح الوافدين بنسبة 12 في المائة خلال الربع الأول",
    "الحكومة تقر موازنة العام المقبل بعجز أقل من المتوقع",
    "نادي الوحدة يتعاقد مع مدرب جديد حتى نهاية الموسم",
    "افتتاح أكبر محطة لتحلية المياه في المنطقة",
    "ارتفاع مؤشر البورصة لأعلى مستوى في ثلاثة أشهر",
    "وزير الصحة يتفقد سير العمل في المستشفيات الحكومية",
    "تحذيرات من موجة حر مبكرة خلال الأيام المقبلة",
    "إطلاق قمر صناعي عربي جديد للاتصالات",
    "بدء التسجيل في برنامج المنح الدراسية للطلاب المتفوقين",
    "فوز رواية عربية بجائزة أدبية دولية",
    "مباحثات لتعزيز التعاون التجاري بين البلدين",
    "انخفاض معدل التضخم إلى 2.8 في المائة في فبراير",
    "الكشف عن موقع أثري جديد يعود إلى العصر النبطي",
    "بلدية العاصمة تبدأ أعمال صيانة الطرق الرئيسية",
    "جامعة محلية تطلق برنامجا جديدا في الذكاء الاصطناعي",
    "انطلاق الدورة الرمضانية لكرة القدم بمشاركة 32 فريقا",
]

FOOTER_LINKS = ["من نحن", "اتصل بنا", "أعلن معنا", "سياسة الخصوصية", "شروط الاستخدام", "سياسة ملفات الارتباط",
                "خريطة الموقع", "الأرشيف", "خدمة RSS", "الوظائف", "فريق التحرير", "الميثاق المهني",
                "تطبيقات الهاتف", "النشرة البريدية", "الأسئلة الشائعة", "تصحيحات"]

COOKIE_TEXT = ("نستخدم ملفات تعريف الارتباط (الكوكيز) لتحسين تجربتك على موقعنا وتحليل الزيارات. "
               "بمواصلة التصفح فإنك توافق على سياسة الخصوصية الخاصة بنا.")

CSS = """
*{box-sizing:border-box}body{margin:0;font-family:"Noto Naskh Arabic","Segoe UI",Tahoma,sans-serif;color:#1b1b1b;background:#fff;line-height:1.8}
a{color:inherit;text-decoration:none}a:hover{text-decoration:underline}
.container{max-width:1180px;margin:0 auto;padding:0 16px}
.topbar{background:#0d2b45;color:#fff;font-size:13px;padding:6px 0}.topbar a{margin-left:14px}
.site-header{border-bottom:3px solid #c8102e;padding:12px 0}.logo{font-size:30px;font-weight:700}
.main-nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap}.main-nav li{margin-left:18px}
.sub-nav{font-size:13px;color:#555;border-bottom:1px solid #eee}.sub-nav a{margin-left:12px}
.breadcrumb{font-size:13px;color:#777;margin:14px 0}.breadcrumb a{color:#c8102e}
.layout{display:grid;grid-template-columns:1fr 320px;gap:32px}
h1{font-size:32px;line-height:1.4;margin:8px 0 12px}
.article-body p{font-size:19px;margin:0 0 18px}
.meta{color:#666;font-size:14px}.byline{font-weight:700}
figure{margin:0 0 20px}figure img{width:100%;height:auto}figcaption{font-size:13px;color:#666}
.share{display:flex;gap:8px;align-items:center;margin:16px 0}.share a{background:#f1f1f1;padding:4px 10px;border-radius:3px;font-size:13px}
.read-also{border-right:4px solid #c8102e;background:#fafafa;padding:10px 14px;margin:18px 0}
.read-also ul{margin:0;padding:0 18px 0 0}.related h3,.sidebar h3{border-bottom:2px solid #0d2b45;padding-bottom:6px}
.sidebar ol{padding-right:22px}.sidebar li{margin-bottom:10px;font-size:15px}
.newsletter{background:#0d2b45;color:#fff;padding:18px;margin:24px 0}.newsletter input{padding:8px;width:60%}
.comments form label{display:block;margin-top:10px;font-size:14px}.comments textarea{width:100%;height:120px}
.cookie-banner{position:fixed;bottom:0;left:0;right:0;background:#222;color:#eee;padding:12px 16px;font-size:14px;z-index:99}
.site-footer{background:#111;color:#bbb;margin-top:40px;padding:28px 0;font-size:14px}.site-footer a{margin-left:14px;display:inline-block}
.tags a{display:inline-block;border:1px solid #ddd;padding:2px 8px;margin:0 0 6px 6px;font-size:13px}
@media (max-width:900px){.layout{grid-template-columns:1fr}.sidebar{display:none}}
"""

MEGA = {
    "أخبار": ["سياسة", "محليات", "برلمان", "أمن وقضاء", "تقارير خاصة", "متابعات"],
    "العالم": ["الشرق الأوسط", "الخليج", "المغرب العربي", "أوروبا", "آسيا", "الأميركيتان", "أفريقيا"],
    "اقتصاد": ["أسواق المال", "طاقة", "عقارات", "شركات", "مصارف", "عملات", "سيارات"],
    "رياضة": ["كرة القدم العربية", "الدوريات الأوروبية", "كرة السلة", "تنس", "ألعاب القوى", "رياضات أخرى"],
    "ثقافة وفنون": ["سينما", "كتب", "مسرح", "موسيقى", "فنون تشكيلية", "تراث"],
    "تكنولوجيا": ["هواتف", "تطبيقات", "ألعاب إلكترونية", "أمن معلومات", "فضاء"],
    "صحة": ["تغذية", "لياقة", "طب", "صحة نفسية", "أسرة وطفل"],
    "آراء": ["مقالات الرأي", "افتتاحية", "أعمدة يومية", "رسائل القراء"],
}
LATEST = [
    "الحكومة تناقش خطة لتطوير شبكة الطرق بين المحافظات",
    "انطلاق أعمال المؤتمر العربي للطاقة المتجددة الأسبوع المقبل",
    "وزارة الخارجية تستقبل وفدا برلمانيا أوروبيا",
    "المنتخب الأولمبي يخوض مباراة ودية استعدادا للبطولة القارية",
    "هيئة الطيران المدني تعلن جدول الرحلات الصيفية",
    "تدشين مكتبة عامة جديدة في الحي الثقافي",
    "ارتفاع صادرات الفوسفات خلال الشهرين الأولين من العام",
    "بدء موسم قطف الزيتون في المناطق الجبلية",
    "إطلاق حملة وطنية للتبرع بالدم",
    "المركز الوطني للأرصاد يحذر من الضباب صباح الغد",
]
SISTER = ["النسخة الإنجليزية", "مجلة الأسبوع", "راديو الأخبار", "أرشيف الصور", "مركز الدراسات", "أكاديمية الصحافة"]
